/** Runs inside Chromium: core's argon2id (libsodium's WebAssembly), timed by the bench. */
import { argon2id, initCrypto, systemRandom, utf8 } from '@parus/core';

declare global {
  interface Window {
    parusArgon2id: (opsLimit: number, memMiB: number) => Promise<number | string>;
  }
}

window.parusArgon2id = async (opsLimit, memMiB) => {
  await initCrypto();
  const started = performance.now();
  try {
    argon2id(utf8('a passphrase of some length'), systemRandom.bytes(16), {
      opsLimit,
      memLimit: memMiB * 1024 * 1024,
    });
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  }
  return performance.now() - started;
};
document.body.dataset.ready = 'yes';
