/**
 * Desktop notifications through the browser's Notification API, after the user switched
 * them on in the settings (which asks the browser's permission). A notification shows for
 * an incoming message while the page is hidden or that chat is not the one open, and never
 * for a muted chat. Its title is the friend's name; its body is the text, or only "new
 * message" when previews are switched off.
 */
export interface NotifyPrefs {
  enabled: boolean;
  preview: boolean;
}

export type Permission = NotificationPermission | 'unsupported';

const NOTIFY_KEY = 'parus.notify';

export function storedNotifyPrefs(): NotifyPrefs {
  try {
    const v = JSON.parse(localStorage.getItem(NOTIFY_KEY) ?? 'null') as unknown;
    if (typeof v === 'object' && v !== null) {
      const p = v as Partial<NotifyPrefs>;
      return { enabled: p.enabled === true, preview: p.preview !== false };
    }
  } catch {
    // unreadable or blocked: the defaults
  }
  return { enabled: false, preview: true };
}

export function storeNotifyPrefs(prefs: NotifyPrefs): void {
  try {
    localStorage.setItem(NOTIFY_KEY, JSON.stringify(prefs));
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}

export function notificationPermission(): Permission {
  return typeof Notification === 'function' ? Notification.permission : 'unsupported';
}

/** Asks the browser (it shows its own prompt once; later it answers from memory). */
export async function askPermission(): Promise<Permission> {
  if (typeof Notification !== 'function') return 'unsupported';
  if (Notification.permission !== 'default') return Notification.permission;
  return Notification.requestPermission();
}

export function shouldNotify(o: {
  prefs: NotifyPrefs;
  permission: Permission;
  muted: boolean;
  hidden: boolean;
  chatOpen: boolean;
}): boolean {
  return o.prefs.enabled && o.permission === 'granted' && !o.muted && (o.hidden || !o.chatOpen);
}

export function showNotification(o: { title: string; body: string; tag: string; onClick: () => void }): void {
  try {
    const n = new Notification(o.title, { body: o.body, tag: o.tag });
    n.onclick = () => {
      window.focus();
      o.onClick();
      n.close();
    };
  } catch (e) {
    // Some browsers allow notifications only from a service worker: nothing to show then.
    console.warn('parus: notification failed', e);
  }
}
