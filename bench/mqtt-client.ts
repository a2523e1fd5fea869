/**
 * The smallest MQTT 3.1.1 client the relay phase needs to load mosquitto (anchor-servers.ts)
 * the way it loads the relay: CONNECT (clean session, no keep-alive), SUBSCRIBE with QoS 1,
 * PUBLISH with QoS 1 (the broker's PUBACK is the sender's "ok"), and a PUBACK for every
 * QoS 1 PUBLISH the broker delivers (the recipient's "ack"). Over node:net, no dependency.
 *
 * Packets (MQTT 3.1.1 §2–3): a type byte, the remaining length as a base-128 varint, then
 * the packet's fields; strings are a 16-bit big-endian length and UTF-8 bytes.
 */
import { connect, type Socket } from 'node:net';

const CONNECT = 0x10;
const CONNACK = 0x20;
const PUBLISH = 0x30;
const PUBACK = 0x40;
const SUBSCRIBE = 0x82; // type 8 with the reserved flags 0010
const SUBACK = 0x90;
const QOS1 = 0x02; // in PUBLISH's flags
/** Inbound packets larger than this are a broken stream, not a message of the bench. */
const MAX_PACKET_BYTES = 1 << 20;

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function packet(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), varint(body.length), body]);
}

/** The bytes of a QoS 1 PUBLISH of `payloadBytes` to `topic` (for the report). */
export function mqttPublishBytes(topic: string, payloadBytes: number): number {
  const body = 2 + Buffer.byteLength(topic) + 2 + payloadBytes;
  return 1 + varint(body).length + body;
}

export class BenchMqttClient {
  /** Called for every QoS 1 PUBLISH delivered to this client (its PUBACK is already on its way). */
  onPublish: (topic: string, payload: Buffer) => void = () => {};
  /** QoS 1 PUBLISHes sent (each waits for a PUBACK). */
  fired = 0;
  /** PUBACKs received for them. */
  oks = 0;
  /** Protocol surprises, by kind. */
  readonly errors = new Map<string, number>();
  private nextPacketId = 1;
  /** Packet ids of PUBLISHes not acknowledged yet (at most one window's worth). */
  private readonly unacked = new Set<number>();
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { type: number; resolve: (body: Buffer) => void } | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => this.count('socket error'));
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Connects with a clean session and waits for the CONNACK. */
  static async connect(
    host: string,
    port: number,
    clientId: string,
    timeoutMs: number,
  ): Promise<BenchMqttClient> {
    const socket = connect({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('mosquitto: no TCP connection')), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
    const client = new BenchMqttClient(socket);
    const connack = client.expect(CONNACK, timeoutMs);
    socket.write(
      packet(
        CONNECT,
        Buffer.concat([
          str('MQTT'),
          Buffer.from([4, 0x02, 0, 0]), // level 4 (3.1.1), clean session, keep-alive 0 (off)
          str(clientId),
        ]),
      ),
    );
    const body = await connack;
    if (body.length < 2 || body[1] !== 0)
      throw new Error(`mosquitto refused the connection (code ${body[1]})`);
    return client;
  }

  /** Subscribes to `topic` with QoS 1 and waits for the SUBACK granting it. */
  async subscribe(topic: string, timeoutMs: number): Promise<void> {
    const id = this.packetId();
    const suback = this.expect(SUBACK, timeoutMs);
    const head = Buffer.alloc(2);
    head.writeUInt16BE(id);
    this.socket.write(packet(SUBSCRIBE, Buffer.concat([head, str(topic), Buffer.from([1])])));
    const body = await suback;
    if (body.length < 3 || body[2] !== 1) throw new Error(`mosquitto did not grant QoS 1 on ${topic}`);
  }

  /** Publishes with QoS 1; the PUBACK is counted in `oks`. */
  publish(topic: Buffer, payload: Buffer): void {
    const id = this.packetId();
    if (this.unacked.has(id)) this.count('packet id still in use');
    this.unacked.add(id);
    const remaining = topic.length + 2 + payload.length;
    const head = Buffer.allocUnsafe(1 + varint(remaining).length);
    head[0] = PUBLISH | QOS1;
    varint(remaining).copy(head, 1);
    const pid = Buffer.allocUnsafe(2);
    pid.writeUInt16BE(id);
    this.fired += 1;
    this.socket.write(Buffer.concat([head, topic, pid, payload]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(Buffer.from([0xe0, 0])); // DISCONNECT
    });
  }

  terminate(): void {
    this.socket.destroy();
  }

  private packetId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = id === 0xffff ? 1 : id + 1;
    return id;
  }

  private expect(type: number, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`mosquitto: no packet of type ${type >> 4} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        type,
        resolve: (body) => {
          clearTimeout(timer);
          resolve(body);
        },
      };
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let at = 0;
    while (at < this.buffer.length) {
      // The remaining length: up to four bytes of base 128.
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      while (i < this.buffer.length && i < at + 5) {
        const byte = this.buffer[i++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      if (length > MAX_PACKET_BYTES) {
        this.count('oversized packet');
        this.socket.destroy();
        return;
      }
      if (i + length > this.buffer.length) break;
      this.handle(this.buffer[at]!, this.buffer.subarray(i, i + length));
      at = i + length;
    }
    this.buffer = at === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(at);
  }

  private handle(first: number, body: Buffer): void {
    const type = first & 0xf0;
    if (this.waiter && this.waiter.type === type) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      return resolve(body);
    }
    if (type === PUBLISH) {
      const qos = (first >> 1) & 0x03;
      const topicLength = body.readUInt16BE(0);
      const topic = body.toString('utf8', 2, 2 + topicLength);
      let at = 2 + topicLength;
      if (qos === 1) {
        const ack = Buffer.allocUnsafe(4);
        ack[0] = PUBACK;
        ack[1] = 2;
        body.copy(ack, 2, at, at + 2);
        at += 2;
        this.socket.write(ack);
      } else {
        this.count(`PUBLISH with QoS ${qos}`);
      }
      return this.onPublish(topic, body.subarray(at));
    }
    if (type === PUBACK) {
      const id = body.readUInt16BE(0);
      if (!this.unacked.delete(id)) return this.count('PUBACK for no PUBLISH');
      this.oks += 1;
      return;
    }
    this.count(`unexpected packet type ${type >> 4}`);
  }

  private count(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }
}
