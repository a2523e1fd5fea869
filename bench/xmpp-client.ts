/**
 * The smallest XMPP client the relay phase needs to load prosody (anchor-servers.ts) the way
 * it loads the relay, over node:net without TLS (loopback only): in-band registration
 * (XEP-0077) of its account, SASL PLAIN, resource binding, then XEP-0198 stream management.
 *
 * - The sender's "ok": after each `<message/>` the client sends `<r/>`, and the server
 *   answers `<a h='n'/>`, n being the number of stanzas it has handled from this client (all
 *   of them messages once stream management is on); `oks` is the highest n seen. So every
 *   message has its own answer, as a relay `send` has its `ok` and a QoS 1 PUBLISH its PUBACK.
 * - The recipient's "ack": after each stanza it receives the client sends `<a h='n'/>`
 *   (an unsolicited ack, allowed by XEP-0198 §4), which lets prosody drop the stanza from the
 *   queue it would resend on resumption; it also answers the server's own `<r/>`.
 *
 * The stream parser knows only what prosody writes: top-level elements of the stream, cut
 * out by counting tags (quotes respected), attributes and `<body>` read with patterns.
 */
import { connect, type Socket } from 'node:net';

const SM = 'urn:xmpp:sm:3';
/** An element larger than this is a broken stream, not a stanza of the bench. */
const MAX_ELEMENT_CHARS = 1 << 20;

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An attribute of an element's opening tag, unescaped only as far as the bench needs. */
export function xmlAttribute(element: string, name: string): string | undefined {
  const open = element.slice(0, element.indexOf('>') + 1);
  const match = new RegExp(`\\s${name}=(['"])(.*?)\\1`).exec(open);
  return match?.[2];
}

function elementName(element: string): string {
  return /^<([^\s/>]+)/.exec(element)?.[1] ?? '';
}

/**
 * The bytes of one message stanza and its `<r/>` as the bench sends them, and of the stanza
 * as delivered (with its `from`; prosody's attribute order may differ), for the report.
 */
export function xmppMessageBytes(from: string, to: string, bodyChars: number): { up: number; down: number } {
  const stanza = messageStanza(to, 'x'.repeat(bodyChars));
  return {
    up: Buffer.byteLength(stanza + REQUEST),
    down: Buffer.byteLength(stanza) + Buffer.byteLength(` from='${from}'`),
  };
}

function messageStanza(to: string, body: string): string {
  return `<message to='${to}' type='chat'><body>${body}</body></message>`;
}

const REQUEST = `<r xmlns='${SM}'/>`;

export class BenchXmppClient {
  /** Called for every `<message/>` delivered to this client, with its body text. */
  onMessage: (from: string, body: string) => void = () => {};
  /** Messages sent. */
  fired = 0;
  /** Messages the server said it handled (the highest `h` of its `<a/>` answers). */
  oks = 0;
  readonly errors = new Map<string, number>();
  /** Stanzas received since stream management was enabled (the `h` of this client's acks). */
  private received = 0;
  private smEnabled = false;
  private text = '';
  private readonly queue: string[] = [];
  private waiter: ((element: string) => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => this.count('socket error'));
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /**
   * Connects, registers `user` with `password` in band, logs in, binds `resource` and
   * enables stream management. Resolves to the client's full JID.
   */
  static async connect(opts: {
    host: string;
    port: number;
    domain: string;
    user: string;
    password: string;
    resource: string;
    timeoutMs: number;
  }): Promise<{ client: BenchXmppClient; jid: string }> {
    const socket = connect({ host: opts.host, port: opts.port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
    const client = new BenchXmppClient(socket);
    const next = (what: string): Promise<string> => client.next(what, opts.timeoutMs);
    const open = (): void =>
      client.write(
        `<?xml version='1.0'?><stream:stream to='${opts.domain}' version='1.0' xml:lang='en' ` +
          `xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
      );
    const expectResult = async (what: string, id: string): Promise<string> => {
      const answer = await next(what);
      if (
        elementName(answer) !== 'iq' ||
        xmlAttribute(answer, 'id') !== id ||
        xmlAttribute(answer, 'type') !== 'result'
      )
        throw new Error(`prosody: ${what} failed: ${answer.slice(0, 300)}`);
      return answer;
    };

    open();
    const features = await next('stream features');
    if (!features.includes('features/iq-register') || !features.includes('PLAIN'))
      throw new Error(`prosody offers no in-band registration or no PLAIN: ${features.slice(0, 300)}`);
    const user = escapeXml(opts.user);
    client.write(
      `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${user}</username>` +
        `<password>${escapeXml(opts.password)}</password></query></iq>`,
    );
    await expectResult('registration', 'reg');
    const plain = Buffer.from(`\0${opts.user}\0${opts.password}`, 'utf8').toString('base64');
    client.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
    const auth = await next('SASL');
    if (elementName(auth) !== 'success') throw new Error(`prosody: SASL failed: ${auth.slice(0, 300)}`);
    open();
    const bound = await next('stream features after login');
    if (!bound.includes(`xmlns='${SM}'`) && !bound.includes(`xmlns="${SM}"`))
      throw new Error('prosody offers no stream management (XEP-0198)');
    client.write(
      `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
        `<resource>${escapeXml(opts.resource)}</resource></bind></iq>`,
    );
    const bind = await expectResult('resource binding', 'bind');
    const jid = /<jid>([^<]+)<\/jid>/.exec(bind)?.[1];
    if (jid === undefined) throw new Error('prosody bound no JID');
    client.write(`<enable xmlns='${SM}'/>`);
    const enabled = await next('stream management');
    if (elementName(enabled) !== 'enabled')
      throw new Error(`prosody: enable failed: ${enabled.slice(0, 300)}`);
    client.smEnabled = true;
    return { client, jid };
  }

  /** Sends a chat message to `to` (a full JID), and asks for the server's ack of it. */
  send(to: string, body: string): void {
    this.fired += 1;
    this.write(messageStanza(to, body) + REQUEST);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end('</stream:stream>');
    });
  }

  terminate(): void {
    this.socket.destroy();
  }

  private write(text: string): void {
    this.socket.write(text);
  }

  private next(what: string, timeoutMs: number): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`prosody: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (element) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(element);
      };
    });
  }

  /** Cuts the top-level elements of the stream out of the text received so far. */
  private receive(chunk: string): void {
    this.text += chunk;
    let at = 0;
    while (true) {
      const start = this.text.indexOf('<', at);
      if (start < 0) {
        at = this.text.length;
        break;
      }
      const end = this.elementEnd(start);
      if (end < 0) {
        at = start;
        break;
      }
      at = end;
      const element = this.text.slice(start, end);
      if (element.startsWith('<?') || element.startsWith('<stream:stream')) continue;
      if (element.startsWith('</stream:stream')) {
        this.count('stream closed by the server');
        continue;
      }
      this.handle(element);
    }
    this.text = this.text.slice(at);
    if (this.text.length > MAX_ELEMENT_CHARS) {
      this.count('oversized element');
      this.socket.destroy();
    }
  }

  /** The end (exclusive) of the element whose tag opens at `start`, or -1 if incomplete. */
  private elementEnd(start: number): number {
    let depth = 0;
    let i = start;
    while (i < this.text.length) {
      const lt = this.text.indexOf('<', i);
      if (lt < 0) return -1;
      const gt = this.tagEnd(lt);
      if (gt < 0) return -1;
      const tag = this.text.slice(lt, gt + 1);
      i = gt + 1;
      if (tag.startsWith('<?') || (depth === 0 && tag.startsWith('<stream:stream'))) {
        if (depth === 0) return i;
      } else if (tag.startsWith('</')) {
        depth -= 1;
        if (depth <= 0) return i;
      } else if (!tag.endsWith('/>')) {
        depth += 1;
      } else if (depth === 0) {
        return i;
      }
    }
    return -1;
  }

  /** The index of the `>` closing the tag that opens at `lt`, skipping quoted values. */
  private tagEnd(lt: number): number {
    let quote = '';
    for (let i = lt + 1; i < this.text.length; i++) {
      const c = this.text[i];
      if (quote !== '') {
        if (c === quote) quote = '';
      } else if (c === "'" || c === '"') {
        quote = c;
      } else if (c === '>') {
        return i;
      }
    }
    return -1;
  }

  private handle(element: string): void {
    const name = elementName(element);
    if (!this.smEnabled) {
      if (this.waiter) this.waiter(element);
      else this.queue.push(element);
      return;
    }
    if (name === 'message' || name === 'iq' || name === 'presence') {
      this.received += 1;
      this.write(`<a xmlns='${SM}' h='${this.received}'/>`);
      if (name !== 'message') return this.count(`unexpected ${name}`);
      if (xmlAttribute(element, 'type') === 'error') return this.count('message error');
      const body = /<body>([^<]*)<\/body>/.exec(element)?.[1];
      if (body === undefined) return this.count('message without a body');
      return this.onMessage(xmlAttribute(element, 'from') ?? '', body);
    }
    if (name === 'a') {
      const h = Number(xmlAttribute(element, 'h'));
      if (!Number.isFinite(h) || h > this.fired) return this.count('ack beyond what was sent');
      if (h > this.oks) this.oks = h;
      return;
    }
    if (name === 'r') return this.write(`<a xmlns='${SM}' h='${this.received}'/>`);
    this.count(`unexpected ${name}`);
  }

  private count(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }
}
