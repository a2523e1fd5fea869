/**
 * One line for a message where there is no room for the message itself: the chat list,
 * a quoted reply, a screen reader announcement, a notification. Stickers and photos read
 * as LINE writes them ([貼圖], [照片]); an unsent message as its tombstone.
 */
import type { MessageInfo } from '@parus/client';
import { callLogText, groupCallLogText } from '../calls/call-log.ts';
import { actionLine } from '../compose/commands.ts';
import { isImage } from '../compose/thumbnail.ts';
import type { Translate } from '../i18n.ts';
import { showText } from '@parus/core/display-text';

/** As voice/voice-bubble.tsx shows inline (kept here too: this module stays tiny). */
const VOICE = new Set(['audio/ogg', 'audio/webm', 'audio/mp4', 'audio/mpeg', 'audio/opus', 'audio/aac']);

export function messagePreview(m: MessageInfo, t: Translate, author: string): string {
  if (m.unsent) return m.dir === 'out' ? t('msg.unsentByMe') : t('msg.unsentByThem');
  if (m.call) return m.group !== undefined ? groupCallLogText(m.call, t) : callLogText(m.call, m.dir, t);
  if (m.sticker) return t('preview.sticker');
  if (m.file && VOICE.has(m.file.mime)) return t('voice.label');
  if (m.file) return isImage(m.file.mime) ? t('preview.photo') : t('preview.file', { name: m.file.name });
  // Peer text, shown safely (docs/decisions/0024): a message of only zero-width characters reads
  // as its markers, never as nothing; show it inside a <bdi> (or a notification's own line).
  const text = showText(m.text.replace(/\s+/g, ' ').trim() || m.text);
  return m.action ? actionLine(showText(author), text) : text;
}
