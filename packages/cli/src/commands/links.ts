/**
 * The refusals of a link I am given (an invitation or a room link, short or long), in the CLI's
 * words (decision 0059): the same error class as the engine's, with one clear message per case,
 * whichever form the link had.
 */
import { DecodeError, ProtocolError, TimeoutError, TransportError, VerificationError } from '@parus/core';
import { fault } from '../i18n.ts';

export async function resolveLink<T>(resolve: () => Promise<T>): Promise<T> {
  try {
    return await resolve();
  } catch (cause) {
    if (cause instanceof ProtocolError) throw fault(ProtocolError, 'link.spent', {}, { cause });
    if (cause instanceof VerificationError) throw fault(VerificationError, 'link.forged', {}, { cause });
    if (cause instanceof DecodeError) throw fault(DecodeError, 'link.malformed', {}, { cause });
    if (cause instanceof TransportError) throw fault(TransportError, 'link.unreachable', {}, { cause });
    if (cause instanceof TimeoutError) throw fault(TimeoutError, 'link.unreachable', {}, { cause });
    throw cause;
  }
}
