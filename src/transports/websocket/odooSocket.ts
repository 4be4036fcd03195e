/**
 * One browser websocket, speaking Odoo's protocol (16-19): the shell that holds the connection and
 * its one phase (`SocketPhase`), and hands the rest to its parts:
 * - incoming messages (`incoming.ts`): rate limit, parse, validate, dispatch;
 * - the subscription (`subscription.ts`): Odoo decides, the hand-off (`../handOff.ts`) keeps
 *   contract 5 around each subscribe, re-validations every `sessionRecheckSeconds`;
 * - presence (`presenceForward.ts`), forwarded to Odoo once the first subscribe was answered;
 * - calls to Odoo (`odooCalls.ts`), abandoned when the socket goes; `on_closed` at the end.
 *
 * Delivery: the hub sends the rows of subscribed channels; each frame is `[{"id","message"}...]`,
 * never empty, ascending. Memory per socket is a headline cost: the parts that only some sockets
 * need (a running presence forward, calls out, a hand-off, a logger) exist only while needed.
 */

import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { BusRow, Notification } from '../../bus/types.js';
import type { EncodedBatch } from '../../hub/encodedBatch.js';
import type { HubSubscriber } from '../../hub/hub.js';
import type { CaughtSite } from '../../observability/caught.js';
import { capLoggedFields, type Logger } from '../../observability/logger.js';
import { socketRequestId } from '../../observability/requestId.js';
import type { BrowserContext } from '../../odoo/client.js';
import { CloseCode } from '../closeCodes.js';
import type { PresenceData } from './clientMessage.js';
import type { FrameRateLimiter, FrameScanner } from './frameScanner.js';
import { receiveBytes, receiveMessage } from './incoming.js';
import { abandonCalls, type CallsOut, notifyClosed } from './odooCalls.js';
import { PresenceForwarder } from './presenceForward.js';
import { isClosingPhase, type SocketContext, type SocketPhase, wholeMs } from './socketContext.js';
import { Subscription } from './subscription.js';

export { presenceParams } from './presenceForward.js';
export type { SocketContext, SocketPhase, SocketSettings } from './socketContext.js';

/** How long a slow consumer's close frame may wait behind its unsent data before the drop. */
const SLOW_CONSUMER_GRACE_MS = 1000;

const SOCKET = Symbol('odooSocket');
type Tagged = { [SOCKET]?: OdooSocket };

/** Lets the server's shared listeners find the socket of a `ws` connection or a TCP socket. */
export function tagSocket(target: object, socket: OdooSocket): void {
  (target as Tagged)[SOCKET] = socket;
}

export function socketOf(target: object): OdooSocket | undefined {
  return (target as Tagged)[SOCKET];
}

let nextSocketId = 1;

export class OdooSocket implements HubSubscriber {
  readonly id = nextSocketId++;
  db: string | undefined;
  sessionId: string | undefined;
  /** The session's hash under which the server indexes this socket for revocations. */
  sessionHash: string | undefined;
  lastActivity: number;
  /** Highest id sent; 0 while nothing was (ids start at 1). */
  lastSentId = 0;
  /** Changed by the socket and its subscription only. */
  phase: SocketPhase = 'opening';
  /** Whom `firstSubscribeAnswered` wakes; made only when something waits. */
  private firstAnswerWaiters: Array<() => void> | undefined;
  private subscription: Subscription | undefined;
  private presence: PresenceForwarder | undefined;
  /** Calls to Odoo out, while there are (`odooCalls.ts`). */
  calls: CallsOut | undefined;
  private pingSentAt = 0;
  private readonly keepAliveDeadline: number;
  private logger: Logger | undefined;
  /** The client's frames, counted against the rate limit; only while it sends (`incoming.ts`). */
  scanner: FrameScanner | undefined;
  limiter: FrameRateLimiter | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly browser: BrowserContext,
    readonly remoteAddress: string | undefined,
    readonly context: SocketContext,
    sessionId: string | undefined,
    /** The session id the browser's own cookie held at the handshake (changes only its copy). */
    public presentedSessionId: string | undefined = sessionId,
  ) {
    const now = wholeMs(context.clock());
    this.lastActivity = now;
    this.sessionId = sessionId;
    // One string when both are the same id (each is a slice of the cookie, 32 bytes apiece).
    if (presentedSessionId === sessionId) this.presentedSessionId = sessionId;
    const { keepAliveMs } = context.settings;
    this.keepAliveDeadline = wholeMs(now + keepAliveMs + Math.random() * keepAliveMs * 0.5);
  }

  /** The TCP connection under the websocket. */
  get connection(): Socket {
    return rawSocket(this.ws);
  }

  /**
   * Another socket of this socket's session (a tab of the same browser): where its cookie and
   * session ids are the same text, this socket keeps its strings instead of its own copies.
   */
  shareSessionStrings(peer: OdooSocket): void {
    const { browser } = this;
    if (browser.cookie === peer.browser.cookie) browser.cookie = peer.browser.cookie;
    if (this.presentedSessionId === peer.sessionId) this.presentedSessionId = peer.sessionId;
    if (this.sessionId === peer.sessionId) this.sessionId = peer.sessionId;
  }

  /** This socket's logger, made at the first line logged (most sockets never log one). */
  get log(): Logger {
    // pino formats a child's bindings with no formatter of its parent's: cut them here.
    this.logger ??= this.context.logger.child(
      capLoggedFields({ socket: this.id, requestId: this.requestId, ip: this.remoteAddress }),
    );
    return this.logger;
  }

  /** Sent to Odoo as `X-Request-Id` on every call for this socket; spelled from its number. */
  get requestId(): string {
    return socketRequestId(this.id);
  }

  /** The client's address (as `clientIdentity` believes it), for per-client log budgets. */
  get clientAddress(): string | undefined {
    return this.remoteAddress;
  }

  /** Logs a line of `event` within the client's budget (see `LogLimiter`). */
  logLimited(event: string, write: (log: Logger, note: { suppressed?: number }) => void): void {
    this.context.logLimiter.log(event, this.clientAddress, (note) => write(this.log, note));
  }

  /** An error nobody foresaw, caught at one of the socket's boundaries. */
  caught(site: CaughtSite, error: unknown): void {
    this.context.caught(site, error);
  }

  get isClosing(): boolean {
    return isClosingPhase(this.phase);
  }

  // --- Phase ------------------------------------------------------------------------------------

  /** Resolves once the first subscribe was answered (or the socket ended); presence waits. */
  firstSubscribeAnswered(): Promise<void> {
    if (this.phase !== 'opening') return Promise.resolve();
    return new Promise((resolve) => {
      this.firstAnswerWaiters ??= [];
      this.firstAnswerWaiters.push(resolve);
    });
  }

  /** Odoo granted a subscription (see `SocketPhase`). */
  subscribed(): void {
    if (this.phase === 'opening' || this.phase === 'refused') this.phase = 'subscribed';
    this.wakeFirstAnswerWaiters();
  }

  /** Odoo refused a subscribe with an RPC error: the first one no longer holds presence up. */
  firstSubscribeRefused(): void {
    if (this.phase === 'opening') this.phase = 'refused';
    this.wakeFirstAnswerWaiters();
  }

  private wakeFirstAnswerWaiters(): void {
    const waiters = this.firstAnswerWaiters;
    this.firstAnswerWaiters = undefined;
    if (waiters) for (const wake of waiters) wake();
  }

  // --- HubSubscriber ----------------------------------------------------------------------------

  accepts(row: BusRow): boolean {
    return this.subscription?.accepts(row.id) ?? true;
  }

  get acceptsAll(): boolean {
    return this.subscription?.acceptsAll ?? true;
  }

  /** The hub's `now` is its own clock's; the socket's deadlines read the socket's clock. */
  send(batch: EncodedBatch, _now: number): void {
    this.write(batch);
  }

  // --- Incoming ---------------------------------------------------------------------------------

  /** Raw bytes from the client: every frame counts against Odoo's rate limit. */
  rawData(chunk: Buffer): void {
    receiveBytes(this, chunk);
  }

  /** Protocol errors (masking, UTF-8, size) are answered by `ws` with 1002/1007/1009. */
  protocolError(error: Error): void {
    this.logLimited('ws-protocol-error', (log, note) =>
      log.info({ reason: error.message, ...note }, 'websocket protocol error'),
    );
    this.context.metrics.invalidMessages.labels('protocol').inc();
  }

  /** Any frame from the client (data, ping, pong) proves the connection alive. */
  touch(): void {
    this.lastActivity = wholeMs(this.context.clock());
    this.pingSentAt = 0;
  }

  handleMessage(data: Buffer, isBinary: boolean): void {
    receiveMessage(this, data, isBinary);
  }

  /** The client's `subscribe` (validated). */
  subscribe(channels: string[], last: number): void {
    this.subscription ??= new Subscription(this);
    this.subscription.request(channels, last);
  }

  /** The client's `update_presence` (validated): forwarded by one forwarder at a time. */
  updatePresence(data: PresenceData): void {
    if (this.presence !== undefined) {
      this.presence.offer(data);
      return;
    }
    const presence = new PresenceForwarder(this, data);
    this.presence = presence;
    presence
      .run(() => {
        if (this.presence === presence) this.presence = undefined;
      })
      .catch((error: unknown) => this.caught('presence', error));
  }

  /** Asks Odoo again now (the addon named this user, or the periodic re-check is due). */
  recheck(): void {
    if (!this.isClosing) this.subscription?.recheck();
  }

  /** Gives back what the channel list counted (the socket stopped taking part in delivery). */
  releaseSubscription(): void {
    this.subscription?.release();
  }

  // --- Outgoing ---------------------------------------------------------------------------------

  write(batch: EncodedBatch<Notification>): void {
    if (this.isClosing || this.ws.readyState !== this.ws.OPEN) return;
    const frame = batch.websocketFrame;
    // What is still unsent from earlier frames decides: one large frame alone never makes a
    // client "slow", and memory stays bounded by the limit plus one frame.
    if (this.ws.bufferedAmount > this.context.settings.maxBufferedBytes) {
      const buffered = this.ws.bufferedAmount;
      this.logLimited('ws-slow-consumer', (log, note) =>
        log.warn(
          { buffered, db: this.db, ...note },
          'slow consumer closed: its unsent data passed the limit',
        ),
      );
      this.context.metrics.slowConsumers.inc();
      this.close(CloseCode.TRY_LATER, 'slow consumer');
      // The close frame waits behind everything unsent; do not hold that memory for long.
      setTimeout(() => this.ws.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
      return;
    }
    // The frame is complete and shared: one write, no per-socket framing. Safe because the `ws`
    // sender writes straight to the socket too (no compression, so nothing is queued inside it).
    rawSocket(this.ws).write(frame);
    const lastId = batch.lastId;
    if (lastId > this.lastSentId) this.lastSentId = lastId;
    this.subscription?.frameSent(lastId);
    this.lastActivity = wholeMs(this.context.clock());
    // Plain numbers, taken by the Prometheus counters when scraped (see `metrics.written`).
    const written = this.context.metrics.written;
    written.frames++;
    written.notifications += batch.rows.length;
    written.bytes += frame.length;
  }

  // --- Timers (driven by the server's single sweep) ---------------------------------------------

  sweep(now: number): void {
    if (this.isClosing) return;
    const { pingAfterMs, pongTimeoutMs } = this.context.settings;
    if (this.pingSentAt > 0 && now - this.pingSentAt >= pongTimeoutMs) {
      // No answer to a ping: the TCP connection is dropped without a close frame, as Odoo does.
      this.logLimited('ws-no-pong', (log, note) =>
        log.info({ db: this.db, ...note }, 'no pong in time, connection dropped'),
      );
      this.close(CloseCode.KILL_NOW, '');
      return;
    }
    if (this.pingSentAt === 0 && now - this.lastActivity >= pingAfterMs) {
      this.pingSentAt = wholeMs(now);
      this.ws.ping();
    }
    if (now >= this.keepAliveDeadline) {
      this.close(CloseCode.KEEP_ALIVE_TIMEOUT, '');
      return;
    }
    this.subscription?.sweep(now);
    // A client that stopped sending: its frame counters go until its next frame.
    if (this.scanner?.idle !== false && this.limiter?.idleAt(now) !== false) {
      this.scanner = undefined;
      this.limiter = undefined;
    }
  }

  // --- Closing ----------------------------------------------------------------------------------

  /**
   * Sends a close frame. For codes after which Odoo drops the connection at once (everything but
   * 1000/1001/1012), the TCP connection is ended right after the frame is flushed. `KILL_NOW`
   * (4003) is no close frame at all: the connection is dropped at once, as Odoo 19 does.
   */
  close(code: number, reason: string): void {
    if (code === CloseCode.KILL_NOW) {
      if (!this.isClosing) this.context.metrics.closes.labels(String(code)).inc();
      this.terminate();
      return;
    }
    if (this.isClosing) return;
    this.stopDelivery();
    abandonCalls(this);
    this.context.metrics.closes.labels(String(code)).inc();
    this.ws.close(code, reason);
    if (code !== CloseCode.CLEAN && code !== CloseCode.GOING_AWAY && code !== CloseCode.RESTART) {
      rawSocket(this.ws).end();
    }
  }

  terminate(): void {
    abandonCalls(this);
    this.stopDelivery();
    this.ws.terminate();
  }

  /** The socket takes no more rows; what its hand-off remembers goes to the client's next one. */
  private stopDelivery(): void {
    if (this.isClosing) return;
    this.phase = this.phase === 'subscribed' ? 'closingSubscribed' : 'closing';
    this.subscription?.stop();
    this.context.onClosed(this);
  }

  /** Called once the connection is gone, whoever closed it. */
  ended(): void {
    this.context.onEnded(this);
    abandonCalls(this);
    this.stopDelivery();
    this.wakeFirstAnswerWaiters();
    if (this.phase === 'closingSubscribed' && !this.context.routes.onClosedMissing) {
      notifyClosed(this).catch((error: unknown) => this.caught('on-closed', error));
    }
  }
}

/** The TCP socket under a server-side `ws` connection (not part of its typed API). */
function rawSocket(ws: WebSocket): Socket {
  return (ws as WebSocket & { _socket: Socket })._socket;
}
