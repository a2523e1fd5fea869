/**
 * Transports behind one interface, picked by URL scheme (DESIGN.md "Clients"). WebSocket
 * is the first; UDP, MQTT and serial links plug in here later.
 */
import { TransportError } from '@parus/core';

export interface TransportConnection {
  send(data: Uint8Array): void;
  close(): void;
  onMessage(handler: (data: Uint8Array) => void): void;
  onClose(handler: (reason: string) => void): void;
}

export interface Transport {
  connect(url: string, signal?: AbortSignal): Promise<TransportConnection>;
}

/** The part of the WebSocket API both browsers and the `ws` package provide. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

/** WebSocket transport over any WebSocket implementation (the browser's, or `ws` in Node). */
export class WebSocketTransport implements Transport {
  constructor(private readonly WebSocketImpl: WebSocketConstructor) {}

  connect(url: string, signal?: AbortSignal): Promise<TransportConnection> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new TransportError('connection aborted'));
      let socket: WebSocketLike;
      try {
        socket = new this.WebSocketImpl(url);
      } catch (cause) {
        return reject(new TransportError('cannot open WebSocket', { cause }));
      }
      socket.binaryType = 'arraybuffer';
      let opened = false;
      let messageHandler: (data: Uint8Array) => void = () => {};
      let closeHandler: (reason: string) => void = () => {};
      let closed = false;
      const onAbort = (): void => socket.close();
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (reason: string): void => {
        if (closed) return;
        closed = true;
        signal?.removeEventListener('abort', onAbort);
        if (!opened) reject(new TransportError(`connection failed: ${reason}`));
        else closeHandler(reason);
      };
      socket.onopen = () => {
        opened = true;
        resolve({
          send(data) {
            if (socket.readyState !== OPEN) throw new TransportError('connection is closed');
            socket.send(data);
          },
          close() {
            socket.close();
          },
          onMessage(handler) {
            messageHandler = handler;
          },
          onClose(handler) {
            closeHandler = handler;
          },
        });
      };
      socket.onmessage = (ev) => {
        const d = ev.data;
        if (d instanceof ArrayBuffer) messageHandler(new Uint8Array(d));
        else if (d instanceof Uint8Array) messageHandler(d);
        // Text frames are not part of the protocol: ignored.
      };
      socket.onerror = () => finish('socket error');
      socket.onclose = () => finish('closed');
    });
  }
}
