/**
 * The record fields of a message's body (a text, sticker, file, unsend or reaction), decoded strictly by
 * kind: what receiving stores of a contact's message, and own-devices.ts of a sent copy.
 */
import {
  ProtocolError,
  asBytes,
  asMap,
  decodeFileBody,
  decodeStickerBody,
  decodeTextBody,
  decodeUnsendBody,
  decodeReactionBody,
  decodeCallLogBody,
  type CborValue,
} from '@parus/core';
import type { MessageRecord } from '../records.ts';

/** The record fields of an incoming message's body, decoded strictly by kind. */
export function incomingFields(
  kind: string,
  body: CborValue,
): Pick<MessageRecord, 'text'> & Partial<MessageRecord> {
  switch (kind) {
    case 'text':
    case 'reply': {
      const b = decodeTextBody(body);
      const f: Pick<MessageRecord, 'text'> & Partial<MessageRecord> = { text: b.text };
      if (b.replyTo) f.replyTo = b.replyTo;
      if (b.action) f.action = true;
      return f;
    }
    case 'sticker': {
      const b = decodeStickerBody(body);
      const f: Pick<MessageRecord, 'text'> & Partial<MessageRecord> = {
        text: '',
        sticker: { pack: b.pack, id: b.id },
      };
      if (b.replyTo) f.replyTo = b.replyTo;
      return f;
    }
    case 'file': {
      // A file body may carry replyTo beside the file fields.
      const m = asMap(body, 'file body');
      const { replyTo, ...rest } = m;
      const f: Pick<MessageRecord, 'text'> & Partial<MessageRecord> = {
        text: '',
        file: decodeFileBody(rest),
      };
      if (replyTo !== undefined) f.replyTo = asBytes(replyTo, 'replyTo', { len: 32 });
      return f;
    }
    case 'unsend':
      return { text: '', target: decodeUnsendBody(body).target };
    case 'call-log':
      return { text: '', callLog: decodeCallLogBody(body) };
    case 'reaction': {
      const r = decodeReactionBody(body);
      return { text: '', target: r.target, emoji: r.emoji };
    }
    default:
      throw new ProtocolError('unsupported message kind');
  }
}
