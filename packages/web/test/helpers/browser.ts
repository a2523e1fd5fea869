/** Debian's Chromium through playwright-core (no browser download), and page checks. */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PARUS_CHROMIUM ?? '/usr/bin/chromium';

/** `extraArgs`: e.g. a fake camera that plays a file (the QR scanning test). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...extraArgs],
  });
}

/**
 * Collects what must never happen on a page: uncaught errors and CSP violations
 * (Chromium reports those as console errors and as securitypolicyviolation events).
 */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
      problems.push(`csp: ${m.text()}`);
  });
  return problems;
}
