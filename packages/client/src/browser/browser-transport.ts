import { TransportError } from '@parus/core';
import { WebSocketTransport, type WebSocketConstructor } from '../transport.ts';

/** The WebSocket transport over the browser's own WebSocket. */
export function browserTransport(): WebSocketTransport {
  const WebSocketImpl = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof WebSocketImpl !== 'function') throw new TransportError('this browser has no WebSocket');
  return new WebSocketTransport(WebSocketImpl as WebSocketConstructor);
}
