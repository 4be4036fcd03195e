/**
 * A websocket client on a bare `net.Socket`, for the protocol-violation tests a real client library
 * refuses to produce. Modelled on the recorder that made `fixtures/odoo17/websocket-session.json`:
 * it writes the handshake request byte for byte, keeps the raw response head (and body, when the
 * server does not upgrade), then sends frames built field by field (`websocketFrames.ts`), parses
 * every server frame, and notes when the server half-closes (FIN) or the connection ends.
 */
import { connect, type Socket } from 'node:net';
import { Wakeups } from '../wakeups.js';
import {
  closePayload,
  encodeFrame,
  FrameParser,
  type FrameSpec,
  Opcode,
  type ParsedFrame,
} from './websocketFrames.js';

/** RFC 6455's sample nonce; its accept value is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=` (as recorded). */
export const RFC_SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export interface HandshakeRequestOptions {
  /** `Host` header value (`127.0.0.1:8072`). */
  host: string;
  /** Request target; default `/websocket`. */
  path?: string;
  key?: string;
  version?: string;
  origin?: string;
  cookie?: string;
  /** Added after the defaults, in order. */
  extraHeaders?: ReadonlyArray<[string, string]>;
  /** Default header names to leave out (`['Origin']` for the missing-origin case). */
  omit?: readonly string[];
}

/** The recorder's request: `Host, Upgrade, Connection, Sec-WebSocket-Key/-Version, Origin, Cookie`. */
export function handshakeRequest(o: HandshakeRequestOptions): string {
  const headers: Array<[string, string | undefined]> = [
    ['Host', o.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', o.key ?? RFC_SAMPLE_KEY],
    ['Sec-WebSocket-Version', o.version ?? '13'],
    ['Origin', o.origin],
    ['Cookie', o.cookie],
    ...(o.extraHeaders ?? []),
  ];
  const omit = new Set((o.omit ?? []).map((name) => name.toLowerCase()));
  const lines = headers
    .filter(([name, value]) => value !== undefined && !omit.has(name.toLowerCase()))
    .map(([name, value]) => `${name}: ${value}`);
  return `GET ${o.path ?? '/websocket'} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

export interface RawHttpResponse {
  statusLine: string;
  httpVersion: string;
  status: number;
  reason: string;
  /** In wire order, names as sent. */
  headers: Array<[string, string]>;
  /** The head without its final blank line, as `response_head_raw` in the recordings. */
  headRaw: string;
  /** Body of a non-101 answer (by Content-Length, else until the server closed). */
  body: Buffer;
}

export interface TcpEvent {
  ev: 'server-fin' | 'closed' | 'error';
  /** Milliseconds since the connection was opened. */
  tMs: number;
  hadError?: boolean;
  message?: string;
}

export interface ReceivedFrame extends ParsedFrame {
  tMs: number;
}

function parseHead(headRaw: string): Omit<RawHttpResponse, 'body' | 'headRaw'> {
  const [statusLine = '', ...lines] = headRaw.split('\r\n');
  const match = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
  if (match === null) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  return {
    statusLine,
    httpVersion: match[1] ?? '',
    status: Number(match[2]),
    reason: match[3] ?? '',
    headers,
  };
}

export class RawWebSocket {
  readonly frames: ReceivedFrame[] = [];
  readonly tcpEvents: TcpEvent[] = [];
  /** Resolves when the server half-closes (TCP FIN). */
  readonly serverEnded: Promise<void>;
  /** Resolves when the connection is fully closed. */
  readonly closed: Promise<{ hadError: boolean }>;
  response: RawHttpResponse | undefined;
  private readonly parser = new FrameParser();
  private readonly openedAt = Date.now();
  private consumed = 0;
  private readonly wakeups = new Wakeups();

  private constructor(readonly socket: Socket) {
    this.serverEnded = new Promise((resolve) => {
      socket.once('end', () => {
        this.note({ ev: 'server-fin', tMs: this.elapsed() });
        resolve();
      });
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (hadError) => {
        this.note({ ev: 'closed', tMs: this.elapsed(), hadError });
        resolve({ hadError });
      });
    });
    socket.on('error', (error) => {
      this.note({ ev: 'error', tMs: this.elapsed(), message: error.message });
    });
  }

  /**
   * Connects, writes `request` (a handshake or anything else) and resolves once the response head
   * has arrived — and, when the server did not switch protocols, its body.
   */
  static async open(
    host: string,
    port: number,
    request: string | Buffer,
    timeoutMs = 20_000,
  ): Promise<RawWebSocket> {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const raw = new RawWebSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.write(request);
    await raw.readResponse(timeoutMs);
    return raw;
  }

  get upgraded(): boolean {
    return this.response?.status === 101;
  }

  private elapsed(): number {
    return Date.now() - this.openedAt;
  }

  private note(event: TcpEvent): void {
    this.tcpEvents.push(event);
    this.wakeups.wake();
  }

  private readResponse(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let buffered = Buffer.alloc(0);
      let head: Omit<RawHttpResponse, 'body'> | undefined;
      let bodyLength: number | undefined;
      const timer = setTimeout(
        () => done(new Error(`no HTTP response within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.socket.off('data', onData);
        this.socket.off('close', onClose);
        if (error !== undefined) reject(error);
        else resolve();
      };
      const finishBody = (): void => {
        if (head === undefined) return;
        this.response = { ...head, body: buffered.subarray(0, bodyLength ?? buffered.length) };
        done();
      };
      const onData = (chunk: Buffer): void => {
        buffered = Buffer.concat([buffered, chunk]);
        if (head === undefined) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) return;
          const headRaw = buffered.subarray(0, end).toString('latin1');
          head = { ...parseHead(headRaw), headRaw };
          buffered = buffered.subarray(end + 4);
          if (head.status === 101) {
            this.response = { ...head, body: Buffer.alloc(0) };
            done();
            this.socket.on('data', (data: Buffer) => this.receive(data));
            if (buffered.length > 0) this.receive(buffered);
            return;
          }
          const length = head.headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1];
          bodyLength = length === undefined ? undefined : Number(length);
        }
        if (bodyLength !== undefined && buffered.length >= bodyLength) finishBody();
      };
      const onClose = (): void => {
        if (head === undefined) done(new Error('connection closed before an HTTP response'));
        else finishBody();
      };
      this.socket.on('data', onData);
      this.socket.once('close', onClose);
    });
  }

  private receive(data: Buffer): void {
    const tMs = this.elapsed();
    for (const frame of this.parser.push(data)) this.frames.push({ ...frame, tMs });
    this.wakeups.wake();
  }

  /** Writes bytes as they are (a frame header without its payload, garbage, ...). */
  writeRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  sendFrame(spec: FrameSpec): void {
    this.socket.write(encodeFrame(spec));
  }

  sendText(text: string, spec: Partial<FrameSpec> = {}): void {
    this.sendFrame({ ...spec, opcode: Opcode.TEXT, payload: text });
  }

  sendBinary(payload: Buffer, spec: Partial<FrameSpec> = {}): void {
    this.sendFrame({ ...spec, opcode: Opcode.BINARY, payload });
  }

  ping(payload: Buffer | string = ''): void {
    this.sendFrame({ opcode: Opcode.PING, payload });
  }

  pong(payload: Buffer | string = ''): void {
    this.sendFrame({ opcode: Opcode.PONG, payload });
  }

  sendClose(code?: number, reason?: string): void {
    this.sendFrame({ opcode: Opcode.CLOSE, payload: closePayload(code, reason) });
  }

  /**
   * The next server frame not returned before (optionally the next matching one). Rejects on
   * timeout or when the connection closes first.
   */
  nextFrame(
    options: { timeoutMs?: number; match?: (frame: ReceivedFrame) => boolean } = {},
  ): Promise<ReceivedFrame> {
    const timeoutMs = options.timeoutMs ?? 20_000;
    return this.wakeups.until(
      () => {
        while (this.consumed < this.frames.length) {
          const frame = this.frames[this.consumed++] as ReceivedFrame;
          if (options.match === undefined || options.match(frame)) return frame;
        }
        if (this.socket.destroyed) {
          throw new Error(`connection closed; events: ${JSON.stringify(this.tcpEvents)}`);
        }
        return undefined;
      },
      timeoutMs,
      () => `no server frame within ${timeoutMs} ms`,
    );
  }

  /** The server's CLOSE frame (skipping anything before it). */
  closeFrame(timeoutMs = 20_000): Promise<ReceivedFrame> {
    return this.nextFrame({ timeoutMs, match: (frame) => frame.opcode === Opcode.CLOSE });
  }

  /** Half-closes our side (TCP FIN), as a client that stops sending. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
