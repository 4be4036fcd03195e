/**
 * One browser websocket, speaking Odoo's protocol (16-19).
 *
 * Lifecycle
 * - open: nothing is subscribed; frames other than `subscribe` wait for the first subscribe's
 *   answer (Odoo's own worker orders them the same way, and Odoo refuses presence before it).
 * - subscribe: Odoo decides. `/websocket/peek_notifications` is called with the browser's cookies;
 *   the channels it returns become the subscription, the notifications it returns are sent first.
 *   One subscribe runs at a time; a newer one arriving meanwhile replaces any waiting one.
 * - delivery: the hub sends the rows of subscribed channels; each frame is `[{"id","message"}...]`,
 *   never empty, ascending.
 * - re-validation: every `sessionRecheckSeconds` (and at once when the addon names the user's partner)
 *   the subscription is asked again; a session Odoo calls expired closes with 4001.
 * - end: `/websocket/on_closed` tells Odoo (17+) the user went offline.
 *
 * No gap, no duplicate around a subscribe: `../handOff.ts` (made at a subscribe, dropped once it
 * remembers nothing; what it remembers when the socket stops goes to the client's next socket).
 */

import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { BusRow, Notification } from '../../bus/types.js';
import { type SubscriptionBudget, subscriptionCost } from '../../capacity/subscriptionBudget.js';
import { EncodedBatch } from '../../hub/encodedBatch.js';
import type { Hub, HubSubscriber } from '../../hub/hub.js';
import type { Clock } from '../../lifecycle/clock.js';
import type { CaughtErrors, CaughtSite } from '../../observability/caught.js';
import { capLoggedFields, type Logger } from '../../observability/logger.js';
import type { LogLimiter } from '../../observability/logLimiter.js';
import type { Metrics } from '../../observability/metrics.js';
import { socketRequestId } from '../../observability/requestId.js';
import type { BrowserContext, OdooClient, RpcOutcome } from '../../odoo/client.js';
import { isSoftRotation, withSessionId } from '../../odoo/cookies.js';
import { generationOf } from '../../odoo/generations.js';
import { PeekResultError, readPeekResult } from '../../odoo/peek.js';
import { CloseCode } from '../closeCodes.js';
import { HandOff, type ParkedHandOffs } from '../handOff.js';
import { type MessageLimits, type PresenceData, readClientMessage } from './clientMessage.js';
import { FrameRateLimiter, FrameScanner } from './frameScanner.js';

export interface SocketSettings {
  maxBufferedBytes: number;
  /** The caps of a client message, one object for every socket. */
  messageLimits: MessageLimits;
  pingAfterMs: number;
  pongTimeoutMs: number;
  sessionRecheckMs: number;
  keepAliveMs: number;
  lateCommitWindowMs: number;
  rateLimitBurst: number;
  rateLimitWindowMs: number;
}

/** What every socket shares: collaborators and facts learned about Odoo. */
export interface SocketContext {
  hub: Hub<HubSubscriber>;
  odoo: OdooClient;
  logger: Logger;
  metrics: Metrics;
  settings: SocketSettings;
  /** What the channel lists of all sockets may hold, overall and per client address. */
  subscriptions: SubscriptionBudget;
  servesDatabase: (db: string) => boolean;
  /** Odoo's major version when known (the route shapes differ). */
  odooMajor: () => number | undefined;
  /** What stopped sockets remembered for their client's next socket, by session hash. */
  handOffs: ParkedHandOffs;
  /** Set once Odoo answered 404 to `/websocket/on_closed` (16.0 and early 17.0 builds). */
  routes: { onClosedMissing: boolean; presenceMissing: boolean };
  /** The clock of every deadline of the socket (monotonic). */
  clock: Clock;
  logLimiter: LogLimiter;
  caught: CaughtErrors;
  /** Called when Odoo hands the socket a new session id, to keep the revocation index current. */
  onSessionChange: (socket: OdooSocket, sessionId: string | undefined) => void;
  /**
   * Called when a call of this socket came back with a soft rotation of its session (19): Odoo
   * gave the new id to the sidecar, not to the browser, which must get it within Odoo's deletion
   * timer (see `WebsocketServer.onSoftRotation`).
   */
  onSoftRotation: (socket: OdooSocket, previous: string, next: string, setCookie: string) => void;
  /** The socket stopped taking part in delivery (closing, or gone). */
  onClosed: (socket: OdooSocket) => void;
  /** The connection is gone. */
  onEnded: (socket: OdooSocket) => void;
}

const SOCKET = Symbol('odooSocket');
type Tagged = { [SOCKET]?: OdooSocket };

/** Lets the server's shared listeners find the socket of a `ws` connection or a TCP socket. */
export function tagSocket(target: object, socket: OdooSocket): void {
  (target as Tagged)[SOCKET] = socket;
}

export function socketOf(target: object): OdooSocket | undefined {
  return (target as Tagged)[SOCKET];
}

interface SubscribeRequest {
  channels: string[];
  last: number;
  /** A re-validation asks for the same channels and ignores Odoo's catch-up. */
  recheck: boolean;
}

const PEEK = '/websocket/peek_notifications';
const PRESENCE = '/websocket/update_bus_presence';
const ON_CLOSED = '/websocket/on_closed';
/** How long a slow consumer's close frame may wait behind its unsent data before the drop. */
const SLOW_CONSUMER_GRACE_MS = 1000;

/** Binary frames carrying JSON are read like text (as Odoo does), refusing invalid UTF-8. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

let nextSocketId = 1;

export class OdooSocket implements HubSubscriber {
  readonly id = nextSocketId++;
  db: string | undefined;
  sessionId: string | undefined;
  /** The session's hash under which the server indexes this socket for revocations. */
  sessionHash: string | undefined;
  lastActivity: number;
  private lastSentId = 0;
  private sentAny = false;
  private peeked = false;
  /** Set once the first subscribe was answered (or the socket ended); presence waits for it. */
  private firstPeekDone = false;
  private firstPeekWaiters: Array<() => void> | undefined;
  private clientChannels: string[] = [];
  /** What `clientChannels` counts against the subscription caps (`SubscriptionBudget`). */
  private subscriptionCost = 0;
  private subscribing = false;
  private pendingSubscribe: SubscribeRequest | undefined;
  private presenceRunning = false;
  private pendingPresence: PresenceData | undefined;
  /** Contract 5 around a subscribe; only while a subscribe is out or it remembers ids. */
  private handOff: HandOff | undefined;
  private pingSentAt = 0;
  private readonly keepAliveDeadline: number;
  private nextRecheckAt = Number.POSITIVE_INFINITY;
  private closing = false;
  /**
   * Aborted when the socket goes: its calls still waiting for a slot never reach Odoo. Made only
   * while calls are out (an AbortController and its signal cost more than half a kilobyte, on
   * every idle socket otherwise).
   */
  private calls: { gone: AbortController; count: number } | undefined;
  private logger: Logger | undefined;
  private readonly scanner = new FrameScanner();
  private readonly limiter: FrameRateLimiter;

  constructor(
    readonly ws: WebSocket,
    readonly browser: BrowserContext,
    readonly remoteAddress: string | undefined,
    private readonly context: SocketContext,
    sessionId: string | undefined,
    /** The session id the browser's own cookie held at the handshake. */
    readonly presentedSessionId: string | undefined = sessionId,
  ) {
    const now = context.clock();
    this.lastActivity = now;
    this.sessionId = sessionId;
    const { keepAliveMs, rateLimitBurst, rateLimitWindowMs } = context.settings;
    this.keepAliveDeadline = now + keepAliveMs + Math.random() * keepAliveMs * 0.5;
    this.limiter = new FrameRateLimiter(rateLimitBurst, rateLimitWindowMs);
  }

  /** This socket's logger, made at the first line logged (most sockets never log one). */
  private get log(): Logger {
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
  private logLimited(event: string, write: (log: Logger, note: { suppressed?: number }) => void) {
    this.context.logLimiter.log(event, this.clientAddress, (note) => write(this.log, note));
  }

  /** An error nobody foresaw, caught at one of the socket's boundaries. */
  caught(site: CaughtSite, error: unknown): void {
    this.context.caught(site, error);
  }

  private resolveFirstPeek(): void {
    if (this.firstPeekDone) return;
    this.firstPeekDone = true;
    const waiters = this.firstPeekWaiters;
    this.firstPeekWaiters = undefined;
    if (waiters) for (const wake of waiters) wake();
  }

  private firstPeekAnswered(): Promise<void> {
    if (this.firstPeekDone) return Promise.resolve();
    return new Promise((resolve) => {
      this.firstPeekWaiters ??= [];
      this.firstPeekWaiters.push(resolve);
    });
  }

  get isClosing(): boolean {
    return this.closing;
  }

  // --- HubSubscriber ----------------------------------------------------------------------------

  accepts(row: BusRow): boolean {
    return this.handOff?.accepts(row.id) ?? true;
  }

  get acceptsAll(): boolean {
    return this.handOff?.acceptsAll ?? true;
  }

  /** The hub's `now` is its own clock's; the socket's deadlines read the socket's clock. */
  send(batch: EncodedBatch, _now: number): void {
    this.write(batch);
  }

  // --- Incoming ---------------------------------------------------------------------------------

  /** Raw bytes from the client: every frame counts against Odoo's rate limit. */
  rawData(chunk: Buffer): void {
    this.context.metrics.received.bytes += chunk.length;
    if (this.closing) return;
    this.scanner.push(chunk, () => {
      if (this.limiter.hit(this.context.clock())) return true;
      this.context.metrics.rateLimited.inc();
      this.logLimited('ws-rate-limited', (log, note) =>
        log.info({ db: this.db, ...note }, 'rate limit exceeded, socket closed'),
      );
      this.close(CloseCode.TRY_LATER, '');
      return false;
    });
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
    this.lastActivity = this.context.clock();
    this.pingSentAt = 0;
  }

  handleMessage(data: Buffer, isBinary: boolean): void {
    if (this.closing) return;
    // Odoo 18/19 clients send a 1-byte binary 0x00 after a minute of silence: ignore it silently.
    if (isBinary && data.length === 1 && data[0] === 0) return;
    let text: string;
    try {
      text = isBinary ? STRICT_UTF8.decode(data) : data.toString('utf8');
    } catch {
      this.refuse('binary-not-utf8', 'binary frame is not UTF-8 text');
      return;
    }
    const message = readClientMessage(text, data.length, this.context.settings.messageLimits);
    switch (message.kind) {
      case 'refused':
        this.refuse(message.reason, message.text);
        return;
      case 'subscribe':
        this.context.metrics.clientMessages.labels('subscribe').inc();
        if (!this.chargeSubscription(message.channels)) return;
        this.clientChannels = message.channels;
        this.queueSubscribe({
          channels: message.channels,
          last: Math.max(0, message.last),
          recheck: false,
        });
        return;
      case 'update_presence':
        this.context.metrics.clientMessages.labels('update_presence').inc();
        // Only the latest state matters: a presence waiting behind a running one is replaced.
        this.pendingPresence = message.data;
        if (!this.presenceRunning) this.startPresence();
        return;
      case 'other':
        // Odoo 16-18 ignore unknown events; 19 hands them to modules that have no HTTP route.
        this.context.metrics.clientMessages.labels('other').inc();
        this.log.debug({ event: message.event.slice(0, 64) }, 'unknown websocket event ignored');
    }
  }

  /**
   * Counts a new channel list against the caps of this client's address and of all: past one, the
   * socket closes with 1013 (the client retries with backoff) rather than hold a subscription
   * nobody else may hold; it gives back what it held when it ends.
   */
  private chargeSubscription(channels: readonly string[]): boolean {
    const cost = subscriptionCost(channels);
    const { subscriptions, metrics } = this.context;
    const over = subscriptions.charge(this.browser.address, this.subscriptionCost, cost);
    if (over === undefined) {
      this.subscriptionCost = cost;
      return true;
    }
    metrics.subscriptionsRefused.labels('websocket', over).inc();
    this.logLimited('ws-subscriptions-capped', (log, note) =>
      log.warn(
        { db: this.db, channels: channels.length, cap: over, ...note },
        over === 'address'
          ? 'subscribe refused: the channel lists of this address passed maxSubscribedBytesPerAddress'
          : 'subscribe refused: the channel lists of all sockets passed maxSubscribedBytes',
      ),
    );
    this.close(CloseCode.TRY_LATER, '');
    return false;
  }

  /** Gives back what the channel list counted (the socket stopped taking part in delivery). */
  releaseSubscription(): void {
    this.context.subscriptions.release(this.browser.address, this.subscriptionCost);
    this.subscriptionCost = 0;
  }

  private refuse(reason: string, text: string): void {
    this.context.metrics.invalidMessages.labels(reason).inc();
    this.logLimited('ws-message-refused', (log, note) =>
      log.info({ reason, db: this.db, ...note }, `websocket message ignored: ${text}`),
    );
  }

  // --- Subscribe and re-validation --------------------------------------------------------------

  private queueSubscribe(request: SubscribeRequest): void {
    if (this.subscribing) {
      // A real subscribe supersedes a waiting re-validation (it validates the session too).
      if (!request.recheck || this.pendingSubscribe === undefined) this.pendingSubscribe = request;
      return;
    }
    this.startSubscribe(request);
  }

  private startSubscribe(request: SubscribeRequest): void {
    this.runSubscribe(request).catch((error: unknown) => this.caught('subscribe', error));
  }

  private startPresence(): void {
    this.runPresence().catch((error: unknown) => this.caught('presence', error));
  }

  /** Asks Odoo again now (the addon named this user, or the periodic re-check is due). */
  recheck(): void {
    if (!this.peeked || this.closing) return;
    this.queueSubscribe({ channels: this.clientChannels, last: 0, recheck: true });
  }

  private async runSubscribe(request: SubscribeRequest): Promise<void> {
    this.subscribing = true;
    this.handOff ??= new HandOff();
    this.handOff.begin(this.context.hub.readCounts());
    const reader = this.db ? this.context.hub.existingReader(this.db) : undefined;
    // A re-validation only wants the channel list: ask from the current read position.
    const last = request.recheck
      ? (reader?.position ?? this.lastSentId)
      : this.sentAny
        ? this.lastSentId
        : request.last;
    try {
      const outcome = await this.call(PEEK, {
        channels: request.channels,
        last,
        is_first_poll: !this.peeked,
      });
      if (this.closing) return;
      await this.applyPeek(outcome, request, last);
    } catch (error) {
      this.caught('subscribe', error);
      this.close(CloseCode.SERVER_ERROR, '');
    } finally {
      this.handOff?.end();
      if (this.handOff?.idle) this.handOff = undefined;
      this.subscribing = false;
      const next = this.pendingSubscribe;
      this.pendingSubscribe = undefined;
      if (next && !this.closing) this.startSubscribe(next);
    }
  }

  private async applyPeek(
    outcome: RpcOutcome,
    request: SubscribeRequest,
    last: number,
  ): Promise<void> {
    this.adoptSession(outcome);
    if (outcome.kind === 'sessionExpired') {
      this.close(CloseCode.SESSION_EXPIRED, '');
      return;
    }
    if (outcome.kind === 'unavailable') {
      this.logLimited('ws-subscribe-unavailable', (log, note) =>
        log.warn(
          { reason: outcome.reason, detail: outcome.detail, db: this.db, ...note },
          'Odoo could not answer a subscribe',
        ),
      );
      this.close(outcome.reason === 'queueFull' ? CloseCode.TRY_LATER : CloseCode.BAD_GATEWAY, '');
      return;
    }
    if (outcome.kind === 'notFound') {
      this.log.error(
        { route: PEEK },
        'Odoo has no /websocket/peek_notifications route (Odoo 16+ is required for websockets)',
      );
      this.close(CloseCode.BAD_GATEWAY, '');
      return;
    }
    if (outcome.kind === 'rpcError') {
      // Odoo logs such errors and keeps the socket open; so do we. The session may not have been
      // marked as a websocket session, so the next subscribe asks again as a first poll.
      this.resolveFirstPeek();
      this.logLimited('ws-subscribe-refused', (log, note) =>
        log.warn(
          { code: outcome.code, error: outcome.name, message: outcome.message, ...note },
          'Odoo refused a subscribe',
        ),
      );
      return;
    }
    let result: ReturnType<typeof readPeekResult>;
    try {
      result = readPeekResult(outcome.text, outcome.result, outcome.cut);
    } catch (error) {
      this.log.warn(
        { err: error instanceof PeekResultError ? error.message : error },
        'unreadable subscribe answer from Odoo',
      );
      this.close(CloseCode.BAD_GATEWAY, '');
      return;
    }
    this.markPeeked();
    const db = result.database ?? this.db;
    if (db === undefined) return;
    if (!this.context.servesDatabase(db)) {
      this.log.warn({ db }, 'socket refused: its database is not served by this sidecar');
      this.close(CloseCode.POLICY_VIOLATION, 'database not served');
      return;
    }
    const reader = this.context.hub.reader(db);
    try {
      await reader.ready();
    } catch (error) {
      this.log.warn({ err: error, db }, 'cannot read bus_bus of this database yet');
      this.close(CloseCode.TRY_LATER, '');
      return;
    }
    if (this.closing) return;
    if (this.db !== db) {
      this.context.hub.unsubscribe(this);
      // The reader's own string: every socket of a database shares it.
      this.db = reader.database;
    }
    const handOff = this.handOff;
    if (handOff === undefined) return;
    // The client coming back (this socket has sent nothing yet): what its previous socket knew.
    const comingBackFrom = !request.recheck && !this.sentAny && last > 0 ? last : 0;
    if (comingBackFrom > 0 && this.sessionHash !== undefined) {
      const carried = this.context.handOffs.take(this.sessionHash, db, last);
      if (carried !== undefined) handOff.adopt(carried);
    }
    const now = this.context.clock();
    if (result.partial && !request.recheck) {
      const rows = handOff.part(
        result.notifications,
        reader,
        db,
        new Set(result.channels),
        last,
        comingBackFrom,
        now,
      );
      this.sendCatchUpPart(rows);
      return;
    }
    this.context.hub.subscribe(this, result.channels);
    // Odoo replays nothing at or below a valid `last`; neither do we.
    const validLast = !request.recheck && last > 0 && last <= reader.position;
    const rows = handOff.catchUp(
      {
        reader,
        database: db,
        channels: this.context.hub.registry.channelsOf(this),
        odoo: request.recheck ? [] : result.notifications,
        floor: validLast ? last : 0,
        comingBackFrom,
      },
      now,
    );
    // The client holds every row up to the `last` it came with: a later subscribe asks from there
    // even if this socket only sent late rows below it.
    if (validLast && !this.sentAny) this.lastSentId = Math.max(this.lastSentId, last);
    if (rows.length > 0) this.write(new EncodedBatch(rows));
  }

  /**
   * Odoo's catch-up was larger than one answer may be (`maxCallAnswerBytes`): its first rows, in
   * id order, are all this socket can be sent without a gap. They are sent, then the socket
   * closes with 4002, on which Odoo's client reconnects at once and subscribes again with the last
   * id it received, and Odoo answers the next part. Meanwhile the socket takes no live row: a newer
   * one would move the client's `last` past rows not sent yet (contract 5). Odoo is not told the
   * user left (`on_closed`): the client is back at once.
   */
  private sendCatchUpPart(rows: readonly Notification[]): void {
    this.context.metrics.catchUpParts.labels('websocket').inc();
    this.log.info(
      { db: this.db, rows: rows.length, upTo: rows.at(-1)?.id },
      'catch-up larger than one answer of Odoo: sent in parts, the client resumes from the last row',
    );
    this.peeked = false;
    if (rows.length > 0) this.write(new EncodedBatch(rows));
    this.close(CloseCode.KEEP_ALIVE_TIMEOUT, '');
  }

  private markPeeked(): void {
    if (!this.peeked) {
      this.peeked = true;
      const { sessionRecheckMs } = this.context.settings;
      this.nextRecheckAt = this.context.clock() + sessionRecheckMs * (0.75 + Math.random() * 0.5);
    }
    this.resolveFirstPeek();
  }

  private adoptSession(outcome: RpcOutcome): void {
    if (outcome.kind !== 'result' && outcome.kind !== 'sessionExpired') return;
    const { newSessionId, sessionCookie } = outcome;
    if (newSessionId === undefined || newSessionId === this.sessionId) return;
    // Odoo created a session (first visit, bogus cookie) or rotated it: later calls must use it.
    const previous = this.sessionId;
    this.browser.cookie = withSessionId(this.browser.cookie, newSessionId);
    this.sessionId = newSessionId;
    this.context.onSessionChange(this, newSessionId);
    if (previous !== undefined && sessionCookie !== undefined) {
      if (isSoftRotation(previous, newSessionId)) {
        this.context.onSoftRotation(this, previous, newSessionId, sessionCookie);
      }
    }
  }

  /** A call to Odoo on behalf of this browser, abandoned if the socket goes while it waits. */
  private async call(route: string, params: Record<string, unknown>): Promise<RpcOutcome> {
    if (this.closing) {
      return this.context.odoo.rpc(route, params, this.browser, AbortSignal.abort());
    }
    const calls = this.calls ?? { gone: new AbortController(), count: 0 };
    this.calls = calls;
    calls.count++;
    try {
      return await this.context.odoo.rpc(
        route,
        params,
        this.browser,
        calls.gone.signal,
        this.requestId,
      );
    } finally {
      calls.count--;
      if (calls.count === 0 && this.calls === calls) this.calls = undefined;
    }
  }

  private abandonCalls(): void {
    const calls = this.calls;
    this.calls = undefined;
    calls?.gone.abort();
  }

  // --- Presence ---------------------------------------------------------------------------------

  private async runPresence(): Promise<void> {
    this.presenceRunning = true;
    try {
      await this.firstPeekAnswered();
      while (
        this.pendingPresence &&
        !this.closing &&
        this.peeked &&
        !this.context.routes.presenceMissing
      ) {
        const data = this.pendingPresence;
        this.pendingPresence = undefined;
        await this.forwardPresence(data);
      }
    } finally {
      this.presenceRunning = false;
    }
  }

  private async forwardPresence(data: PresenceData): Promise<void> {
    const params = presenceParams(data, this.context.odooMajor());
    const outcome = await this.call(PRESENCE, params);
    if (this.closing) return;
    this.adoptSession(outcome);
    switch (outcome.kind) {
      case 'sessionExpired': {
        this.close(CloseCode.SESSION_EXPIRED, '');
        return;
      }
      case 'notFound':
        this.context.routes.presenceMissing = true;
        this.log.warn(
          { route: PRESENCE },
          'Odoo has no presence route; presence updates are not forwarded',
        );
        return;
      case 'unavailable':
        this.logLimited('ws-presence-undelivered', (log, note) =>
          log.warn(
            { reason: outcome.reason, detail: outcome.detail, ...note },
            'presence update not delivered to Odoo',
          ),
        );
        return;
      case 'rpcError':
        this.logLimited('ws-presence-refused', (log, note) =>
          log.info(
            { code: outcome.code, error: outcome.name, ...note },
            'Odoo refused a presence update',
          ),
        );
        return;
      default:
        return;
    }
  }

  // --- Outgoing ---------------------------------------------------------------------------------

  private write(batch: EncodedBatch<Notification>): void {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return;
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
    this.handOff?.frameSent(lastId);
    this.sentAny = true;
    this.lastActivity = this.context.clock();
    // Plain numbers, taken by the Prometheus counters when scraped (see `metrics.written`).
    const written = this.context.metrics.written;
    written.frames++;
    written.notifications += batch.rows.length;
    written.bytes += frame.length;
  }

  // --- Timers (driven by the server's single sweep) ---------------------------------------------

  sweep(now: number): void {
    if (this.closing) return;
    const { pingAfterMs, pongTimeoutMs, lateCommitWindowMs } = this.context.settings;
    if (this.pingSentAt > 0 && now - this.pingSentAt >= pongTimeoutMs) {
      // No answer to a ping: the TCP connection is dropped without a close frame, as Odoo does.
      this.logLimited('ws-no-pong', (log, note) =>
        log.info({ db: this.db, ...note }, 'no pong in time, connection dropped'),
      );
      this.close(CloseCode.KILL_NOW, '');
      return;
    }
    if (this.pingSentAt === 0 && now - this.lastActivity >= pingAfterMs) {
      this.pingSentAt = now;
      this.ws.ping();
    }
    if (now >= this.keepAliveDeadline) {
      this.close(CloseCode.KEEP_ALIVE_TIMEOUT, '');
      return;
    }
    if (now >= this.nextRecheckAt) {
      this.nextRecheckAt =
        now + this.context.settings.sessionRecheckMs * (0.75 + Math.random() * 0.5);
      this.recheck();
    }
    if (this.handOff !== undefined) {
      const reader = this.db ? this.context.hub.existingReader(this.db) : undefined;
      this.handOff.expire(reader, now, lateCommitWindowMs);
      if (this.handOff.idle) this.handOff = undefined;
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
      if (!this.closing) this.context.metrics.closes.labels(String(code)).inc();
      this.terminate();
      return;
    }
    if (this.closing) return;
    this.abandonCalls();
    this.context.metrics.closes.labels(String(code)).inc();
    this.stopDelivery();
    this.ws.close(code, reason);
    if (code !== CloseCode.CLEAN && code !== CloseCode.GOING_AWAY && code !== CloseCode.RESTART) {
      rawSocket(this.ws).end();
    }
  }

  terminate(): void {
    this.abandonCalls();
    this.stopDelivery();
    this.ws.terminate();
  }

  /** The socket takes no more rows; what its hand-off remembers goes to the client's next one. */
  private stopDelivery(): void {
    if (this.closing) return;
    this.closing = true;
    const handOff = this.handOff;
    if (handOff !== undefined && this.sessionHash !== undefined) {
      handOff.end();
      const reader = this.db ? this.context.hub.existingReader(this.db) : undefined;
      const carried = handOff.carry(this.db, this.lastSentId, reader?.readCount ?? 0);
      if (carried !== undefined)
        this.context.handOffs.park(this.sessionHash, carried, this.context.clock());
    }
    this.handOff = undefined;
    this.context.onClosed(this);
  }

  /** Called once the connection is gone, whoever closed it. */
  ended(): void {
    this.context.onEnded(this);
    this.abandonCalls();
    this.stopDelivery();
    this.resolveFirstPeek();
    if (this.peeked && !this.context.routes.onClosedMissing) {
      this.notifyClosed().catch((error: unknown) => this.caught('on-closed', error));
    }
  }

  private async notifyClosed(): Promise<void> {
    const outcome = await this.context.odoo.rpc(
      ON_CLOSED,
      {},
      this.browser,
      undefined,
      this.requestId,
    );
    if (outcome.kind === 'notFound') {
      this.context.routes.onClosedMissing = true;
      this.log.info(
        'Odoo has no /websocket/on_closed route (before 17.0 late builds); not called again',
      );
    } else if (outcome.kind === 'unavailable') {
      this.log.debug({ reason: outcome.reason }, 'on_closed not delivered to Odoo');
    }
  }
}

/**
 * The parameters of `/websocket/update_bus_presence` for a client's `update_presence` data:
 * - 16-18 require `im_status_ids_by_model` (late 17 / 18 clients send `{}`, 17.0-20240709 ids);
 * - 19 takes `inactivity_period` only: its client sends nothing else, and its route logs a
 *   warning for anything more (`update_presence_with_im_status_ids` of the 19 recordings);
 * - generation unknown: the client's own message says it (a 19 client leaves the key out, and the
 *   page comes from the Odoo being served).
 */
export function presenceParams(
  data: PresenceData,
  major: number | undefined,
): Record<string, unknown> {
  const params: Record<string, unknown> = { inactivity_period: data.inactivity_period };
  const legacy =
    major === undefined
      ? 'im_status_ids_by_model' in data
      : generationOf(major).presenceParams.includes('im_status_ids_by_model');
  if (legacy) params.im_status_ids_by_model = data.im_status_ids_by_model ?? {};
  return params;
}

/** The TCP socket under a server-side `ws` connection (not part of its typed API). */
function rawSocket(ws: WebSocket): Socket {
  return (ws as WebSocket & { _socket: Socket })._socket;
}
