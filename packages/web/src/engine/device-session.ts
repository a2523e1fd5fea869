/**
 * The devices side of a `Session` (docs/decisions/0030, 0031, 0041): this account's devices,
 * revoking one with the account passphrase, an encrypted backup file, and answering a new
 * device's `parus:device/` link. In the browser the account passphrase is the one that unlocks
 * the account here (decision 0041); every operation that needs the account key asks for it
 * again and lets go of it when done.
 */
import {
  answerDeviceLink,
  encodeSnapshot,
  type Account,
  type DeviceInfo,
  type HistoryChoice,
} from '@parus/client';
import { browserTransport } from '@parus/client/browser';
import { ARGON2ID_BROWSER, ExpiredError, parseLinkOffer, sealAccountBackup, systemRandom } from '@parus/core';

export type { DeviceInfo, HistoryChoice } from '@parus/client';

/** The name this browser gets in the device list when it starts the log: "Chrome · Linux". */
export function browserDeviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrome\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'Browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Mac OS X/.test(ua)
        ? 'macOS'
        : /Windows/.test(ua)
          ? 'Windows'
          : /Linux/.test(ua)
            ? 'Linux'
            : '';
  return os ? `${browser} · ${os}` : browser;
}

/**
 * Starts the device log when the account has none, with the passphrase the account was just
 * opened with (so it is the account passphrase) and the browser's Argon2id profile.
 */
export async function ensureDeviceLog(account: Account, passphrase: string): Promise<void> {
  if (await account.devices.started()) return;
  await account.devices.ensureLog({ passphrase, cost: ARGON2ID_BROWSER, name: browserDeviceName() });
}

export interface LinkedDevice {
  device: DeviceInfo;
  messages: number;
}

export class DeviceSession {
  constructor(private readonly account: Account) {}

  /** This device's own `add` op, which a linked device sends back to the device that linked it. */
  ownAddOp(): Promise<Uint8Array> {
    return this.account.devices.lastOp();
  }

  list(): Promise<DeviceInfo[]> {
    return this.account.devices.list();
  }

  /** A wrong passphrase is an AuthError and changes nothing; contacts stop encrypting to it. */
  revoke(id: string, passphrase: string): Promise<DeviceInfo[]> {
    // The log op, then every contact told with the pre-rotated identity (decision 0038).
    return this.account.revokeDevice(id, passphrase);
  }

  /**
   * The backup file's bytes, encrypted under the account passphrase (checked first: a backup
   * under another passphrase could not be restored). `messages`: how much history it holds.
   */
  async exportBackup(
    passphrase: string,
    history: HistoryChoice,
  ): Promise<{ bytes: Uint8Array; messages: number }> {
    await this.account.devices.checkPassphrase(passphrase);
    const snapshot = await this.account.snapshot({ history });
    const bytes = sealAccountBackup({
      passphrase,
      payload: encodeSnapshot(snapshot),
      rng: systemRandom,
      cost: ARGON2ID_BROWSER,
    });
    return { bytes, messages: snapshot.history?.length ?? 0 };
  }

  /** Checks a pasted or scanned link before anything is sent (DecodeError, ExpiredError). */
  checkLink(link: string): void {
    const offer = parseLinkOffer(link.trim());
    if (offer.expires <= Date.now()) throw new ExpiredError('device link expired');
  }

  /**
   * Answers a new device's link: `onCode` shows the short code, `confirm` resolves with the
   * user's answer (false: nothing sent), then the account with `history` goes to the new device.
   */
  async answerLink(opts: {
    link: string;
    history: HistoryChoice;
    onCode: (code: string) => void;
    confirm: () => Promise<boolean>;
    signal?: AbortSignal;
  }): Promise<LinkedDevice> {
    const r = await answerDeviceLink({
      account: this.account,
      link: opts.link.trim(),
      history: opts.history,
      transport: browserTransport(),
      rng: systemRandom,
      onCode: opts.onCode,
      confirm: () => opts.confirm(),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { device: r.device, messages: r.messages };
  }
}
