/**
 * Display names and avatars sent to contacts end to end (docs/decisions/0056). My profile (the
 * account's name and an optional avatar) goes as a `profile` envelope, outside the conversation's
 * DAG, through the outbox to every device of every contact (an offline one gets it from its
 * queue later) and to my own devices (which take it as theirs); a new contact gets it once its
 * session is up. A contact's profile is kept apart from what I call them: the alias I gave stays,
 * the profile name is shown beside it. Avatars are kept in their own collection, not in the
 * contact record (which is rewritten at every message).
 */
import {
  ProtocolError,
  UsageError,
  decodeProfileBody,
  encodeProfileBody,
  type CborValue,
  type ProfileBody,
} from '@parus/core';
import { encodeRecord, type AccountRecord, type ContactRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import { C, hex, type AccountContext } from './account-context.ts';

/** The avatars: mine under `self`, a contact's under its id. */
export const PROFILES = 'profiles';

export type ProfileContext = Pick<
  AccountContext,
  'store' | 'lock' | 'events' | 'contactsById' | 'control' | 'kickFlush' | 'self' | 'info'
>;

export class Profiles {
  constructor(
    private readonly ctx: ProfileContext,
    /** Takes a changed account record (name) into the account after its batch is stored. */
    private readonly setSelf: (r: AccountRecord) => void,
  ) {}

  /** My profile as contacts get it. */
  async mine(): Promise<ProfileBody> {
    const avatar = await this.ctx.store.get(PROFILES, 'self');
    return avatar ? { name: this.ctx.self().name, avatar } : { name: this.ctx.self().name };
  }

  /** A contact's avatar as they sent it (a JPEG or PNG), if they sent one. */
  async avatarOf(c: ContactRecord): Promise<Uint8Array | undefined> {
    return (await this.ctx.store.get(PROFILES, hex(c.id))) ?? undefined;
  }

  /**
   * Changes my name and/or avatar (`avatar: null` removes it) and sends the profile to every
   * contact and my other devices. UsageError for a bad name, DecodeError for an avatar that is
   * not a JPEG or PNG, QuotaError for one too large; nothing changes then.
   */
  async set(change: { name?: string; avatar?: Uint8Array | null }): Promise<ProfileBody> {
    if (change.name === undefined && change.avatar === undefined) throw new UsageError('nothing to change');
    const profile = await this.ctx.lock.run(async () => {
      const current = await this.mine();
      const next: ProfileBody = { name: change.name === undefined ? current.name : change.name.trim() };
      const avatar = change.avatar === undefined ? current.avatar : (change.avatar ?? undefined);
      if (avatar) next.avatar = avatar;
      const body = encodeProfileBody(next); // checks before anything is written
      const self: AccountRecord = { ...this.ctx.self(), name: next.name };
      const ops: StoreOp[] = [{ type: 'put', collection: C.account, key: 'self', value: encodeRecord(self) }];
      ops.push(
        next.avatar
          ? { type: 'put', collection: PROFILES, key: 'self', value: next.avatar }
          : { type: 'del', collection: PROFILES, key: 'self' },
      );
      for (const c of this.ctx.contactsById.values())
        if (!c.peer && (c.own || c.state !== 'compromised')) ops.push(this.ctx.control(c, 'profile', body));
      await this.ctx.store.batch(ops);
      this.setSelf(self);
      return next;
    });
    this.ctx.kickFlush();
    return profile;
  }

  /** Sends my profile to a contact whose session just came up (a new contact). */
  async sendTo(alias: string): Promise<void> {
    await this.ctx.lock.run(async () => {
      const c = [...this.ctx.contactsById.values()].find((x) => !x.peer && !x.own && x.alias === alias);
      if (!c || c.status !== 'active' || c.state === 'compromised') return;
      await this.ctx.store.batch([this.ctx.control(c, 'profile', encodeProfileBody(await this.mine()))]);
    });
    this.ctx.kickFlush();
  }

  /**
   * A `profile` envelope from contact `c` (under the lock): its name and avatar replace what it
   * sent before; the contact record to save is returned. From a device of mine: my own profile,
   * changed on that device. DecodeError / QuotaError for a malformed one (nothing changes).
   */
  receive(c: ContactRecord, body: CborValue, ops: StoreOp[], after: Array<() => void>): ContactRecord {
    if (c.peer) throw new ProtocolError('a group peer sent a profile');
    const p = decodeProfileBody(body);
    if (c.own) {
      const self: AccountRecord = { ...this.ctx.self(), name: p.name };
      ops.push({ type: 'put', collection: C.account, key: 'self', value: encodeRecord(self) });
      ops.push(
        p.avatar
          ? { type: 'put', collection: PROFILES, key: 'self', value: p.avatar }
          : { type: 'del', collection: PROFILES, key: 'self' },
      );
      after.push(() => {
        this.setSelf(self);
        this.ctx.events.emit('profile', { name: p.name, avatar: p.avatar !== undefined });
      });
      return c;
    }
    const next: ContactRecord = { ...c, profileName: p.name };
    if (p.avatar) next.hasAvatar = true;
    else delete next.hasAvatar;
    ops.push(
      p.avatar
        ? { type: 'put', collection: PROFILES, key: hex(c.id), value: p.avatar }
        : { type: 'del', collection: PROFILES, key: hex(c.id) },
    );
    after.push(() =>
      this.ctx.events.emit('contact', { alias: c.alias, change: 'profile', info: this.ctx.info(next) }),
    );
    return next;
  }
}
