// The language of every command's output (decision 0059): the real `parus` binary under
// LANG=zh_TW.UTF-8 prints results, notices and errors in Traditional Chinese, under LANG=C in
// English, and `--json` is the same document in both (scripts rely on it).
import { describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress } = cliWorld('lang-e2e');

const ZH = { LANG: 'zh_TW.UTF-8' };
const C = { LANG: 'C' };

describe('parus speaks the locale’s language', () => {
  it('prints results, notices and errors in zh-TW under zh_TW, in English otherwise', async () => {
    const init = await parus('alice', ['init', '--name', 'Alice', '--relay', relayAddress()], ZH);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('建立帳號');
    expect(init.stdout).toContain('中繼站：');
    expect(init.stdout).not.toMatch(/Account for|Next:/);

    // Results.
    const cases: Array<{ args: string[]; zh: string; en: string }> = [
      { args: ['search', 'nothing-here'], zh: '找不到符合的結果。', en: 'Nothing found.' },
      { args: ['contacts'], zh: '還沒有聯絡人', en: 'No contacts yet.' },
      { args: ['group', 'list'], zh: '還沒有群組。', en: 'No groups yet.' },
      { args: ['requests'], zh: '沒有私聊邀請。', en: 'No chat requests.' },
      { args: ['read'], zh: '沒有新訊息。', en: 'No new messages.' },
      { args: ['group', 'create', 'Teahouse'], zh: '已建立群組 Teahouse', en: 'Group Teahouse created' },
    ];
    for (const c of cases) {
      const zh = await parus('alice', c.args, ZH);
      expect(zh.code, c.args.join(' ')).toBe(0);
      expect(zh.stdout, c.args.join(' ')).toContain(c.zh);
      expect(zh.stdout, c.args.join(' ')).not.toContain(c.en);
      if (c.args[1] === 'create') continue;
      const en = await parus('alice', c.args, C);
      expect(en.stdout, c.args.join(' ')).toContain(c.en);
    }
    const members = await parus('alice', ['group', 'members', 'Teahouse'], ZH);
    expect(members.stdout).toContain('1 位成員，你是建立者');
    expect(members.stdout).toContain('（你）');

    // The CLI's own errors: localized for people, English (and the same class) in --json.
    const usageZh = await parus('alice', ['search'], ZH);
    expect(usageZh.code).toBe(2);
    expect(usageZh.stderr).toContain('用法：parus search TEXT');
    expect(usageZh.stderr).toContain('UsageError');
    const usageEn = await parus('alice', ['search'], C);
    expect(usageEn.stderr).toContain('usage: parus search TEXT');
    const usageJson = await parus('alice', ['search', '--json'], ZH);
    expect(JSON.parse(usageJson.stdout).error).toEqual({
      name: 'UsageError',
      code: 'USAGE',
      message: 'usage: parus search TEXT [--limit N]',
    });
    const limit = await parus('alice', ['search', 'x', '--limit', 'many'], ZH);
    expect(limit.stderr).toContain('--limit 需要整數');
    const noAccount = await parus('bob', ['contacts'], ZH);
    expect(noAccount.code).toBe(1);
    expect(noAccount.stderr).toContain('裡沒有帳號：請先執行 parus init');
    expect(noAccount.stderr).toContain('NotFoundError');
    const badLink = await parus('alice', ['accept', 'parus:i/AAAA', '--alias', 'x'], ZH);
    expect(badLink.stderr).toContain('這不是有效的 parus: 連結');
    expect(badLink.stderr).toContain('DecodeError');

    // --json: the same document whatever the language.
    const strip = (r: Record<string, unknown>): string => JSON.stringify(r);
    for (const args of [['search', 'nothing-here'], ['contacts'], ['group', 'list']]) {
      const zh = await parus('alice', [...args, '--json'], ZH);
      const en = await parus('alice', [...args, '--json'], C);
      expect(strip(JSON.parse(zh.stdout) as Record<string, unknown>)).toBe(
        strip(JSON.parse(en.stdout) as Record<string, unknown>),
      );
    }
    const created = await json('alice', ['group', 'create', 'Second']);
    expect(Object.keys(created).sort()).toEqual(['group', 'note']);
  }, 300_000);
});
