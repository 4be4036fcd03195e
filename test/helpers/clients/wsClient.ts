/**
 * A websocket client that speaks like Odoo's websocket worker (the SharedWorker of the web client,
 * `browser-frames.json`): compact JSON `{"event_name", "data"}` frames, `subscribe` with the channel
 * strings and the last id seen, `update_presence`; notifications arrive as JSON arrays of
 * `{"id", "message"}`. It never offers permessage-deflate: the browser does, and the server must
 * decline (recorded), so the sidecar's frames are checked uncompressed.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { Wakeups } from '../wakeups.js';

/** What a Chromium page's worker sends; `userAgent: null` sends none (Odoo's IoT-box case). */
export const BROWSER_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

export interface BrowserSocketOptions {
  /** Raw `Cookie` header value, e.g. `session_id=<sid>`. */
  cookie?: string;
  /** Default: the http(s) origin of the websocket URL, as for a same-origin page. */
  origin?: string | null;
  userAgent?: string | null;
  headers?: Record<string, string>;
  handshakeTimeoutMs?: number;
}

export interface BusNotification {
  id: number;
  message: { type?: string; payload?: unknown } & Record<string, unknown>;
}

/** A refused upgrade: the HTTP answer the server gave instead of 101. */
export class HandshakeError extends Error {
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: string,
  ) {
    super(`websocket handshake refused with HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = 'HandshakeError';
  }
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export class BrowserSocket {
  /** Every notification batch received, parsed, in arrival order. */
  readonly batches: BusNotification[][] = [];
  /** Text frames that were not notification arrays (should stay empty). */
  readonly otherMessages: string[] = [];
  /** The 101 response's headers (e.g. a `set-cookie` Odoo issued). */
  readonly upgradeHeaders: IncomingHttpHeaders;
  pingsReceived = 0;
  readonly closed: Promise<CloseInfo>;
  private readonly wakeups = new Wakeups();

  constructor(
    readonly ws: WebSocket,
    upgrade: IncomingMessage,
  ) {
    this.upgradeHeaders = upgrade.headers;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        this.wakeups.wake();
      });
    });
    ws.on('ping', () => this.pingsReceived++);
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    let parsed: unknown;
    try {
      parsed = isBinary ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed)) this.batches.push(parsed as BusNotification[]);
    else this.otherMessages.push(text);
    this.wakeups.wake();
  }

  notifications(): BusNotification[] {
    return this.batches.flat();
  }

  notificationIds(): number[] {
    return this.notifications().map((n) => n.id);
  }

  /** The worker's `lastNotificationId`: the id of the last element of the last batch. */
  lastNotificationId(): number {
    return this.batches.at(-1)?.at(-1)?.id ?? 0;
  }

  send(raw: string | Buffer): void {
    this.ws.send(raw, { binary: Buffer.isBuffer(raw) });
  }

  private sendEvent(eventName: string, data: unknown): void {
    // The browser's JSON.stringify: compact, as recorded.
    this.send(JSON.stringify({ event_name: eventName, data }));
  }

  subscribe(channels: readonly string[], last: number): void {
    this.sendEvent('subscribe', { channels, last });
  }

  /** 16–18 send `im_status_ids_by_model` (17.0-20240709 with ids, later `{}`); 19 leaves it out. */
  updatePresence(
    inactivityPeriod: number,
    imStatusIdsByModel?: Record<string, readonly number[]>,
  ): void {
    this.sendEvent(
      'update_presence',
      imStatusIdsByModel === undefined
        ? { inactivity_period: inactivityPeriod }
        : { inactivity_period: inactivityPeriod, im_status_ids_by_model: imStatusIdsByModel },
    );
  }

  /** Resolves with the first notification (already received or to come) matching `predicate`. */
  waitForNotification(
    predicate: (notification: BusNotification) => boolean,
    timeoutMs = 20_000,
  ): Promise<BusNotification> {
    return this.wakeups.until(
      () => {
        const found = this.notifications().find(predicate);
        if (found === undefined && this.ws.readyState === WebSocket.CLOSED) {
          throw new Error('socket closed before the notification arrived');
        }
        return found;
      },
      timeoutMs,
      () =>
        `no matching notification within ${timeoutMs} ms (received ids ${this.notificationIds().join(', ') || 'none'})`,
    );
  }

  /** Starts the closing handshake; resolves when the socket is closed. */
  close(code = 1000, reason?: string): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
    }
    return this.closed;
  }

  terminate(): Promise<CloseInfo> {
    this.ws.terminate();
    return this.closed;
  }
}

function defaultOrigin(url: string): string {
  const parsed = new URL(url);
  const scheme = parsed.protocol === 'wss:' ? 'https:' : 'http:';
  return `${scheme}//${parsed.host}`;
}

/** Opens a websocket like the Odoo worker; rejects with `HandshakeError` when not upgraded. */
export function connectBrowserSocket(
  url: string,
  options: BrowserSocketOptions = {},
): Promise<BrowserSocket> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie !== undefined) headers.Cookie = options.cookie;
  const userAgent = options.userAgent === undefined ? BROWSER_USER_AGENT : options.userAgent;
  if (userAgent !== null) headers['User-Agent'] = userAgent;
  const origin = options.origin === undefined ? defaultOrigin(url) : options.origin;
  const ws = new WebSocket(url, {
    headers,
    ...(origin === null ? {} : { origin }),
    perMessageDeflate: false,
    handshakeTimeout: options.handshakeTimeoutMs ?? 30_000,
  });
  return new Promise((resolve, reject) => {
    // 'upgrade' always precedes 'open'; the socket is wrapped synchronously in 'open', before any
    // frame (an immediate close included) can be dispatched.
    ws.once('upgrade', (upgrade) => {
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(new BrowserSocket(ws, upgrade));
      });
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        reject(
          new HandshakeError(
            response.statusCode ?? 0,
            response.headers,
            Buffer.concat(chunks).toString('utf8'),
          ),
        );
        ws.off('error', reject);
        ws.on('error', () => {});
        request.destroy();
      });
    });
  });
}
