// The first screen loads at most 250 KB of gzipped JavaScript: the built index.html's
// scripts and everything they import statically. The engine (core, client, libsodium)
// must be a chunk of its own, loaded only by a dynamic import.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DIST } from './helpers/app.ts';

const BUDGET = 250 * 1024;

function staticImports(code: string): string[] {
  // Minified ESM: import"./a.js" / import{x}from"./a.js" / export{y}from"./a.js"
  return [
    ...code.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[^'"();]*?from\s*)?["'](\.\/[^"']+\.js)["']/g),
  ].map((m) => m[1]!);
}

describe('the built web client', () => {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8');
  const assets = join(DIST, 'assets');

  it('has no inline script or style in index.html', () => {
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
  });

  it('first screen: at most 250 KB of gzipped JS; the engine is not part of it', () => {
    const entries = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="\.\/assets\/([^"]+\.js)"/g)].map(
      (m) => m[1]!,
    );
    expect(entries.length).toBeGreaterThan(0);
    const first = new Set<string>();
    const visit = (file: string): void => {
      if (first.has(file)) return;
      first.add(file);
      for (const dep of staticImports(readFileSync(join(assets, file), 'utf8'))) visit(dep.slice(2));
    };
    entries.forEach(visit);
    const sizes = [...first].map((f) => ({ file: f, gzip: gzipSync(readFileSync(join(assets, f))).length }));
    const total = sizes.reduce((n, s) => n + s.gzip, 0);
    const all = readdirSync(assets).filter((f) => f.endsWith('.js'));
    const rest = all
      .filter((f) => !first.has(f))
      .map((f) => ({ file: f, gzip: gzipSync(readFileSync(join(assets, f))).length }));
    console.log(
      `first screen JS (gzip): ${sizes.map((s) => `${s.file} ${(s.gzip / 1024).toFixed(1)} KB`).join(', ')}; ` +
        `loaded later: ${rest.map((s) => `${s.file} ${(s.gzip / 1024).toFixed(1)} KB`).join(', ')}`,
    );
    expect(total).toBeLessThanOrEqual(BUDGET);
    // libsodium's WebAssembly (base64 "\0asm" = AGFzbQ) and the engine stay out of the first load.
    for (const f of first) {
      const code = readFileSync(join(assets, f), 'utf8');
      expect(code.includes('AGFzbQ'), f).toBe(false);
      expect(code.includes('initCrypto() must be awaited'), f).toBe(false);
    }
    expect(rest.some((s) => readFileSync(join(assets, s.file), 'utf8').includes('AGFzbQ'))).toBe(true);
  });
});
