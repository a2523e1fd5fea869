/**
 * Sizes of the ids a relay hands out, below the relay protocol and everything that carries a
 * queue (cards, message bodies, inbox cards), so that none of them imports the protocol.
 */
export const QUEUE_ID_BYTES = 24;
export const MESSAGE_ID_BYTES = 16;
