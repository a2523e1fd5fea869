/**
 * 通話只經由中繼伺服器 (decision 0046, switch in the settings since 0053): calls use relayed
 * candidates only (iceTransportPolicy `relay`), never direct ones, which hides this device's IP
 * address from the contact. A choice of this browser, kept in localStorage; on the first screen
 * (the settings read it), tiny.
 */
export const RELAY_ONLY_KEY = 'parus.callRelayOnly';

export function relayOnly(): boolean {
  try {
    return localStorage.getItem(RELAY_ONLY_KEY) === '1';
  } catch {
    return false;
  }
}

export function setRelayOnly(on: boolean): void {
  try {
    if (on) localStorage.setItem(RELAY_ONLY_KEY, '1');
    else localStorage.removeItem(RELAY_ONLY_KEY);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}
