/** Polls `check` every `pollMs` until it holds; rejects when `timeoutMs` pass first. */
export function waitFor(
  check: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
  pollMs = 20,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`${what} not met in time`));
      setTimeout(tick, pollMs);
    };
    tick();
  });
}
