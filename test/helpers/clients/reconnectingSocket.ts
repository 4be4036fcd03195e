/**
 * A client that stays connected the way Odoo's websocket worker does (17.0
 * `bus/static/src/workers/websocket_worker.js`): a handshake that fails (refused, cut, timed out) or
 * a connection closed other than cleanly is retried after a delay that starts at 1 s and grows by
 * half at each failure, plus up to 1 s of random jitter, capped at 60 s (0 after a keep-alive
 * timeout, 4002); the delay is back at its start once a connection opens. Each connection
 * subscribes again with the id of the last notification received, so a server that does its job
 * hands the client exactly the rows it missed, across however many connections it took.
 */
import { Wakeups } from '../wakeups.js';
import {
  type BrowserSocket,
  type BrowserSocketOptions,
  type BusNotification,
  connectBrowserSocket,
} from './wsClient.js';

export const WORKER_RECONNECT = {
  initialDelayMs: 1000,
  growth: 1.5,
  jitterMs: 1000,
  maxDelayMs: 60_000,
} as const;

/** The worker's next delay after `previousMs` (the start value before the first retry). */
export function nextReconnectDelay(previousMs: number, random: () => number = Math.random): number {
  return (
    Math.min(previousMs * WORKER_RECONNECT.growth, WORKER_RECONNECT.maxDelayMs) +
    WORKER_RECONNECT.jitterMs * random()
  );
}

const CLEAN = 1000;
const KEEP_ALIVE_TIMEOUT = 4002;

export interface ReconnectingSocketOptions extends BrowserSocketOptions {
  /** The `last` of the first subscribe (the worker's `lastNotificationId` when it reconnects). */
  last: number;
  channels?: readonly string[];
}

export class ReconnectingSocket {
  /** Every connection that opened, in order; the last one is the current one. */
  readonly connections: BrowserSocket[] = [];
  failedHandshakes = 0;
  /** Connections closed other than cleanly, each followed by a reconnect. */
  abnormalCloses = 0;
  private delayMs: number = WORKER_RECONNECT.initialDelayMs;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly wakeups = new Wakeups();

  constructor(
    private readonly url: string,
    private readonly options: ReconnectingSocketOptions,
  ) {}

  start(): void {
    void this.connect();
  }

  get isOpen(): boolean {
    const current = this.connections.at(-1);
    return current !== undefined && current.ws.readyState === current.ws.OPEN;
  }

  /** Every notification of every connection, in arrival order. */
  notifications(): BusNotification[] {
    return this.connections.flatMap((socket) => socket.notifications());
  }

  notificationIds(): number[] {
    return this.notifications().map((n) => n.id);
  }

  /** The worker's `lastNotificationId`: kept across connections. */
  lastNotificationId(): number {
    for (let i = this.connections.length - 1; i >= 0; i--) {
      const id = this.connections[i]?.lastNotificationId() ?? 0;
      if (id > 0) return id;
    }
    return this.options.last;
  }

  /** Resolves with the first notification (on any connection, received or to come) matching. */
  waitForNotification(
    predicate: (notification: BusNotification) => boolean,
    timeoutMs: number,
  ): Promise<BusNotification> {
    return this.wakeups.until(
      () => this.notifications().find(predicate),
      timeoutMs,
      () =>
        `no matching notification within ${timeoutMs} ms (received ids ${this.notificationIds().join(', ') || 'none'}; ${this.connections.length} connections, ${this.failedHandshakes} failed handshakes)`,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await Promise.all(this.connections.map((socket) => socket.terminate()));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let socket: BrowserSocket;
    try {
      socket = await connectBrowserSocket(this.url, this.options);
    } catch {
      this.failedHandshakes++;
      this.retryLater();
      return;
    }
    if (this.stopped) {
      await socket.terminate();
      return;
    }
    this.connections.push(socket);
    this.delayMs = WORKER_RECONNECT.initialDelayMs;
    socket.ws.on('message', () => this.wakeups.wake());
    void socket.closed.then(({ code }) => {
      this.wakeups.wake();
      if (this.stopped || code === CLEAN) return;
      this.abnormalCloses++;
      if (code === KEEP_ALIVE_TIMEOUT) this.delayMs = 0;
      this.retryLater();
    });
    socket.subscribe(this.options.channels ?? [], this.lastNotificationId());
  }

  private retryLater(): void {
    if (this.stopped) return;
    this.delayMs = nextReconnectDelay(this.delayMs);
    this.retryTimer = setTimeout(() => void this.connect(), this.delayMs);
  }
}
