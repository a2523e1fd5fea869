// The relay address offered for a new account (relay-origin.ts, decision 0044): the relay's
// fingerprint with the host and port the page was opened through.
import { describe, expect, it } from 'vitest';
import { relayForPage } from '../src/relay-origin.ts';

const FP = 'A'.repeat(43);
const RELAY = `parus://${FP}@127.0.0.1:7400`;

describe('relayForPage', () => {
  it('takes the page’s host and port, TLS for https, and keeps the fingerprint', () => {
    expect(relayForPage(RELAY, { protocol: 'http:', hostname: 'chat.example.tw', port: '8080' })).toBe(
      `parus://${FP}@chat.example.tw:8080`,
    );
    expect(relayForPage(RELAY, { protocol: 'https:', hostname: 'chat.example.tw', port: '' })).toBe(
      `parus://${FP}@chat.example.tw:443?transport=wss`,
    );
    expect(relayForPage(`${RELAY}?transport=wss`, { protocol: 'http:', hostname: '[::1]', port: '' })).toBe(
      `parus://${FP}@[::1]:80`,
    );
  });

  it('leaves the answer as it is for a page it cannot place or an answer that is no address', () => {
    expect(relayForPage(RELAY, { protocol: 'file:', hostname: '', port: '' })).toBe(RELAY);
    expect(relayForPage(RELAY, { protocol: 'http:', hostname: 'a b', port: '1' })).toBe(RELAY);
    expect(relayForPage('nonsense', { protocol: 'http:', hostname: 'x', port: '1' })).toBe('nonsense');
  });
});
