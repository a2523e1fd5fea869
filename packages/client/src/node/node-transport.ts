import WebSocket from 'ws';
import { WebSocketTransport, type WebSocketConstructor } from '../transport.ts';

/** The WebSocket transport on Node, over the `ws` package (Node 20 has no global WebSocket). */
export function nodeTransport(): WebSocketTransport {
  return new WebSocketTransport(WebSocket as unknown as WebSocketConstructor);
}
