// Peer text in the terminal, end to end (docs/decisions/0024): the real `parus` binary for two
// accounts and a real relay process over loopback WebSockets. What a contact writes — OSC
// title changes, screen clears, `\r ESC [K` line rewrites, C1 controls, bidirectional
// overrides, a message of only zero-width characters — reaches `read`, `history` and `chat`
// as visible markers, never as bytes that act on the terminal. Names follow one rule from
// `init` on, and `send-file` exits at once when it refuses a file name or a MIME type.
import { describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, parusWithInput, json, relayAddress } = cliWorld('text-safety-e2e');

/** Anything that can act on a terminal or reorder what follows it (tab and line feed aside). */
// eslint-disable-next-line no-control-regex
const ACTING = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Bidi_Control}\u2028\u2029]/u;

const OSC_TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J\x1b[H';
const REWRITE = '\r\x1b[K[2026-01-01 00:00] bank: send the code to eve';
const C1_CSI = '\u009b2J';
const RLO = 'invoice\u202efdp.exe';
const ZERO_WIDTH = '\u200b\u200c\u200d\u2060';

describe('peer text in the terminal', () => {
  it('refuses a bidirectional or control name at init, as invite and accept would, and makes no account', async () => {
    for (const name of ['eve\u202eexe.pdf', 'eve\x1b[2J', 'pay\u200bpal']) {
      const r = await parus('carol', ['init', '--name', name, '--relay', relayAddress(), '--json']);
      expect(r.code).toBe(2);
      expect((JSON.parse(r.stdout.trim()) as { error: { name: string } }).error.name).toBe('UsageError');
    }
    // Nothing was left behind: a good name still makes the account.
    await json('carol', ['init', '--name', 'Carol', '--relay', relayAddress()]);
  }, 300_000);

  it('sets up two contacts; an alias that breaks the name rule is refused at accept', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    const invite = await json('alice', ['invite']);
    const bad = await parus('bob', ['accept', String(invite.link), '--alias', 'al\u202eice', '--json']);
    expect(bad.code).toBe(2);
    await json('bob', ['accept', String(invite.link), '--alias', 'alice']);
    await json('alice', ['read']);
    await json('bob', ['read']);
  }, 300_000);

  it('read and history show a contact’s escape sequences, C1 controls, overrides and zero-width text as markers', async () => {
    const texts = [
      `${OSC_TITLE}hello`,
      `${CLEAR}cleared`,
      `ok${REWRITE}`,
      `x${C1_CSI}y`,
      RLO,
      ZERO_WIDTH,
      'two\n[2026-01-01 00:00] bank: lines',
    ];
    for (const t of texts) await json('alice', ['send', 'Bob', t]);
    await json('alice', ['send', 'Bob', '--me', `waves${OSC_TITLE}`]);

    const read = await parus('bob', ['read']);
    expect(read.code).toBe(0);
    const history = await parus('bob', ['history', 'alice']);
    expect(history.code).toBe(0);
    for (const out of [read.stdout, history.stdout]) {
      expect(out).not.toMatch(ACTING);
      expect(out).toContain('␛]0;pwned␇hello');
      expect(out).toContain('␛[2J␛[Hcleared');
      expect(out).toContain('ok␍␛[K[2026-01-01 00:00] bank');
      expect(out).toContain('x⟨U+009B⟩2Jy');
      expect(out).toContain('invoice⟨U+202E⟩fdp.exe');
      expect(out).toContain('⟨U+200B⟩⟨U+200C⟩⟨U+200D⟩⟨U+2060⟩');
      expect(out).toContain('* alice waves␛]0;pwned␇');
      // A line break in a message starts an indented line: it cannot pass for a message line.
      expect(out).toMatch(/two\n {4}\[2026-01-01 00:00\] bank: lines/);
      expect(out).not.toMatch(/^\[2026-01-01 00:00\] bank/m);
    }
    // JSON keeps the text exactly (escaped where a terminal would act on it).
    const all = (await json('bob', ['history', 'alice'])).messages as Array<{ text: string }>;
    expect(all.map((m) => m.text)).toEqual(expect.arrayContaining(texts));
    const raw = await parus('bob', ['history', 'alice', '--json']);
    expect(raw.stdout).not.toMatch(ACTING);
  }, 600_000);

  it('chat shows the same conversation safely', async () => {
    const chat = await parusWithInput('bob', ['chat', 'alice'], '/quit\n');
    expect(chat.code).toBe(0);
    expect(chat.stdout).not.toMatch(ACTING);
    expect(chat.stdout).toContain('invoice⟨U+202E⟩fdp.exe');
  }, 300_000);

  it('a group’s topic with an override and a member’s message with controls are shown as markers', async () => {
    const g = (await json('alice', ['group', 'create', 'Birds'])).group as { id: string };
    await json('alice', ['group', 'invite', g.id, 'Bob']);
    await json('bob', ['read']);
    await json('bob', ['group', 'join', g.id]);
    await json('alice', ['read']);
    // A topic may hold no control character (the event's rule), but bidirectional ones, shown safely.
    await json('alice', ['group', 'topic', g.id, 'top\u202eic']);
    await json('alice', ['group', 'send', g.id, `${CLEAR}group ${RLO}`]);
    const read = await parus('bob', ['read']);
    const list = await parus('bob', ['group', 'list']);
    const history = await parus('bob', ['history', g.id]);
    for (const out of [read.stdout, list.stdout, history.stdout]) expect(out).not.toMatch(ACTING);
    expect(list.stdout).toContain('top⟨U+202E⟩ic');
    expect(history.stdout).toContain('␛[2J␛[Hgroup invoice⟨U+202E⟩fdp.exe');
  }, 600_000);

  it('send-file refuses a bidirectional file name or a bad MIME type and exits at once, non-zero', async () => {
    // The binary's own path is a file that exists; the refusal comes before it is sent.
    const file = new URL('../package.json', import.meta.url).pathname;
    const byName = await parus('alice', ['send-file', 'Bob', file, '--name', 'evil\u202etxt.exe']);
    expect(byName.code).toBe(2);
    expect(byName.stderr).toContain('UsageError');
    expect(byName.stderr).not.toMatch(ACTING);
    const byMime = await parus('alice', ['send-file', 'Bob', file, '--mime', 'text']);
    expect(byMime.code).toBe(2);
    const noContact = await parus('alice', ['send-file', 'nobody', file]);
    expect(noContact.code).not.toBe(0);
  }, 300_000);
});
