/**
 * `/websocket`: the upgrade, Odoo's handshake rules, the version check, and the sockets' shared
 * clock. One sweep timer drives every socket's ping, pong deadline, maximum age and session
 * re-check, instead of several timers per socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { Emptied } from '../../lifecycle/emptied.js';
import { guarded } from '../../observability/caught.js';
import { LogLimiter } from '../../observability/logLimiter.js';
import type { BrowserContext } from '../../odoo/client.js';
import { sessionIdFromCookie, withSessionId } from '../../odoo/cookies.js';
import type { Revocation } from '../../odoo/revocation.js';
import { browserContext, clientIdentity } from '../clientIdentity.js';
import { CloseCode, OUTDATED_VERSION } from '../closeCodes.js';
import type { TransportDependencies } from '../dependencies.js';
import { ParkedHandOffs } from '../handOff.js';
import { readTarget } from '../requestTarget.js';
import {
  badTarget,
  checkHandshake,
  forbiddenCrossOrigin,
  type HandshakeRejection,
  isOutdatedClient,
  isSameOrigin,
  notFound,
  rejectionResponse,
  serviceUnavailable,
  tooManyConnections,
} from './handshake.js';
import { intern } from './intern.js';
import { OdooSocket, type SocketContext, tagSocket } from './odooSocket.js';
import { proxyMistake, reportProxyMistake } from './originMismatch.js';
import { SessionIndex } from './sessionIndex.js';
import { destroyOnError, listenTo } from './socketListeners.js';
import { socketSettings } from './socketSettings.js';

/** Odoo's `MESSAGE_MAX_SIZE`: larger messages close with 1009. */
export const MAX_MESSAGE_BYTES = 2 ** 20;
const SWEEP_INTERVAL_MS = 1000;
/**
 * How long a browser that still presents a session id Odoo rotated away (19) is handed the new one
 * on its websocket handshake. Odoo itself serves the old id as the new one for 120 s
 * (`SESSION_DELETION_TIMER`); the browser reconnects within a second or two of our 4002.
 */
export const ROTATION_HANDOVER_MS = 60_000;
const MAX_ROTATIONS = 100_000;

export interface WebsocketServerOptions extends TransportDependencies {
  /** Odoo's current `websocket_worker_version` (null: unknown, no version check). */
  workerVersion: () => string | null;
  /** The addon keeps session ids on the sidecar's calls (see `onSoftRotation`). */
  keepsSessionIds: () => boolean;
}

type Rotation = { next: string; setCookie: string; until: number };
export class WebsocketServer {
  readonly sockets = new Set<OdooSocket>();
  /** The sockets of each session, by its hash (revocations). */
  private readonly sessions = new SessionIndex();
  /** Session ids Odoo softly rotated in answer to our calls: old id -> new id and its cookie. */
  private readonly rotations = new Map<string, Rotation>();
  private readonly emptied = new Emptied();
  /** The `Set-Cookie` a handshake's 101 must carry (a rotated session handed over). */
  private readonly handshakeCookies = new WeakMap<IncomingMessage, string>();
  private readonly wss: WebSocketServer;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly context: SocketContext;
  private closing = false;
  /** One warning per proxy mistake and minute, whatever the number of sockets it downgrades. */
  private readonly proxyMistakes: LogLimiter;

  constructor(private readonly options: WebsocketServerOptions) {
    const { config } = options;
    this.proxyMistakes = new LogLimiter({
      linesPerClient: 1,
      linesPerEvent: 10,
      clock: options.clock,
      onSuppressed: (event) => options.metrics.logSuppressed.labels(event).inc(),
    });
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE_BYTES,
      clientTracking: false,
    });
    this.context = {
      hub: options.hub,
      readers: options.readers,
      odoo: options.odoo,
      logger: options.logger.child({ component: 'websocket' }),
      metrics: options.metrics,
      subscriptions: options.subscriptions,
      servesDatabase: options.servesDatabase,
      odooMajor: options.odooMajor,
      handOffs: new ParkedHandOffs(),
      routes: { onClosedMissing: false, presenceMissing: false },
      clock: options.clock,
      logLimiter: options.logLimiter,
      caught: options.caught,
      settings: socketSettings(config),
      onSessionChange: (socket, sessionId) => this.sessions.add(socket, sessionId),
      onSoftRotation: (socket, previous, next, setCookie) =>
        this.onSoftRotation(socket, previous, next, setCookie),
      onClosed: (socket) => this.forget(socket),
      onEnded: (socket) => {
        options.connections.releaseHeld(socket.connection); // see `handOver` in `accept`
        this.sockets.delete(socket);
        options.metrics.sockets.set(this.sockets.size);
        if (this.sockets.size === 0) this.emptied.emptied();
      },
    };
    this.wss.on('headers', (headers, request) => {
      const setCookie = this.handshakeCookies.get(request);
      if (setCookie !== undefined) headers.push(`Set-Cookie: ${setCookie}`);
    });
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** Node's `upgrade` event of the HTTP server: never throws, whatever the request. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyOnError);
    try {
      this.upgrade(request, socket, head);
    } catch (error) {
      this.options.caught('upgrade', error);
      socket.destroy();
    }
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = readTarget(request.url);
    if (target === undefined) {
      this.refuse(socket, badTarget(), request);
      return;
    }
    if (target.path !== '/websocket') {
      this.refuse(socket, notFound(), request);
      return;
    }
    if (this.closing) {
      this.refuse(socket, serviceUnavailable(), request);
      return;
    }
    const invalid = checkHandshake(request.headers);
    if (invalid) {
      this.refuse(socket, invalid, request);
      return;
    }
    const client = clientIdentity(request, this.options.proxyTrust);
    // Kept for the socket's life: the values many sockets share are kept once.
    const browser = browserContext(request, client, intern);
    const full = this.options.connections.takeFor(socket, browser.address);
    if (full !== undefined) {
      this.options.metrics.connectionsRefused.labels('websocket', full).inc();
      this.refuse(socket, tooManyConnections(full), request);
      return;
    }
    const crossOrigin = !isSameOrigin(
      String(request.headers.origin),
      client.host ?? '',
      client.proto,
    );
    if (crossOrigin) {
      if (this.options.config.crossOrigin === 'reject') {
        this.refuse(socket, forbiddenCrossOrigin(), request);
        return;
      }
      if (this.options.config.crossOrigin === 'downgrade') {
        browser.cookie = '';
        this.options.metrics.crossOriginDowngraded.inc();
        // A foreign page, or the proxy not passing the browser's host (a warning that says so).
        const mistake = proxyMistake(request, client, this.options.proxyTrust);
        if (mistake !== undefined) {
          reportProxyMistake(this.context.logger, this.proxyMistakes, request, client, mistake);
        } else {
          const ip = client.address;
          this.options.logLimiter.log('ws-cross-origin', ip, (note) =>
            this.context.logger.info(
              { ip, origin: String(request.headers.origin), ...note },
              'cross-origin websocket served as a public visitor',
            ),
          );
        }
      }
    }
    let presented = sessionIdFromCookie(browser.cookie);
    const rotation = presented === undefined ? undefined : this.rotations.get(presented);
    if (rotation !== undefined && rotation.until > this.options.clock()) {
      // Odoo rotated this session in answer to one of our calls: the browser gets the new id now
      // (browsers store a 101's cookies), and this socket uses it from the start.
      browser.cookie = withSessionId(browser.cookie, rotation.next);
      this.handshakeCookies.set(request, rotation.setCookie);
      this.options.metrics.sessionHandovers.inc();
      presented = rotation.next;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      // From here on `ws` handles the socket's errors.
      socket.removeListener('error', destroyOnError);
      const version = new URLSearchParams(target.query).get('version') ?? undefined;
      this.accept(ws, request, browser, client.address, version, presented);
    });
  }

  /**
   * Odoo 19 rotates a session softly every 3 h, on whatever request comes first, and the socket
   * follows: its later calls use the new id (same first 42 characters, so the same revocation
   * hash). Who made that request matters:
   * - the browser itself: it holds the new id already; nothing more to do;
   * - the sidecar, calling with the browser's cookie (a subscribe, a periodic re-check, a presence
   *   update): Odoo answered the new id to the sidecar, the browser keeps the old one, which Odoo
   *   accepts for only 120 s more; past that, the user would be logged out at their next click.
   * With the addon (`FEATURE_KEEPS_SESSION_IDS`), Odoo never rotates on the sidecar's calls, so
   * only the first case happens. Without it the two cannot be told apart, and the new id is
   * handed to the browser the way Odoo's own websocket hands out cookies, on a 101: the socket is
   * closed with 4002 (the client reconnects at once, unnoticed), and the reconnecting handshake
   * that presents the old id gets `Set-Cookie` with Odoo's new one. In the first case that costs
   * one needless reconnect.
   */
  private onSoftRotation(
    socket: OdooSocket,
    previous: string,
    next: string,
    setCookie: string,
  ): void {
    const now = this.options.clock();
    if (this.rotations.size < MAX_ROTATIONS || this.rotations.has(previous)) {
      this.rotations.set(previous, { next, setCookie, until: now + ROTATION_HANDOVER_MS });
    }
    if (this.options.keepsSessionIds()) return;
    if (socket.presentedSessionId !== previous || socket.isClosing) return;
    this.context.logger.info(
      { socket: socket.id, db: socket.db },
      'Odoo rotated the session in answer to the sidecar: socket closed (4002) to hand the browser its new session id',
    );
    // After the answer being handled is applied: the client resubscribes with its last id.
    setImmediate(
      guarded(this.options.caught, 'ws-close', () =>
        socket.close(CloseCode.KEEP_ALIVE_TIMEOUT, ''),
      ),
    );
  }

  /** Closes the sockets of revoked sessions at once, re-validates the sockets of named partners. */
  revoke(revocation: Revocation): void {
    const { db, sessions, partnerKeys } = revocation;
    let closed = 0;
    for (const hash of sessions) {
      for (const socket of this.sessions.socketsOf(hash)) {
        if (socket.db !== undefined && socket.db !== db) continue;
        socket.close(CloseCode.SESSION_EXPIRED, '');
        closed++;
      }
    }
    let rechecked = 0;
    for (const key of partnerKeys) {
      for (const socket of this.options.hub.registry.subscribersOf(key) ?? []) {
        if (!(socket instanceof OdooSocket)) continue;
        socket.recheck();
        rechecked++;
      }
    }
    this.context.logger.info(
      { db, sessions: sessions.size, partners: partnerKeys.size, closed, rechecked },
      'session revocation applied',
    );
  }

  /** Stops accepting, then closes every socket with 1012 spread over `windowMs`. */
  async shutdown(windowMs: number): Promise<void> {
    this.closing = true;
    const sockets = [...this.sockets];
    const { clock } = this.options;
    const started = clock();
    const step = sockets.length > 0 ? windowMs / sockets.length : 0;
    for (let i = 0; i < sockets.length; i++) {
      const due = started + i * step;
      const wait = due - clock();
      if (wait > 10) await new Promise((resolve) => setTimeout(resolve, wait));
      sockets[i]?.close(CloseCode.RESTART, 'server restarting');
    }
  }

  /** Drops every connection at once (the end of a shutdown, or a second signal). */
  terminateAll(): void {
    for (const socket of [...this.sockets]) socket.terminate();
    clearInterval(this.sweepTimer);
  }

  /** Resolves once every socket has ended, or after `timeoutMs`. */
  whenEmpty(timeoutMs: number): Promise<void> {
    return this.emptied.wait(this.sockets.size === 0, timeoutMs);
  }

  get openCount(): number {
    return this.sockets.size;
  }

  private accept(
    ws: WebSocket,
    request: IncomingMessage,
    browser: BrowserContext,
    address: string | undefined,
    version: string | undefined,
    presentedSessionId: string | undefined,
  ): void {
    const { metrics } = this.options;
    const raw = request.socket;
    const socket = new OdooSocket(
      ws,
      browser,
      intern(address),
      this.context,
      sessionIdFromCookie(browser.cookie),
      presentedSessionId,
    );
    this.sockets.add(socket);
    this.sessions.add(socket, socket.sessionId);
    metrics.socketsOpened.inc();
    metrics.sockets.set(this.sockets.size);

    // Shared listeners that find their socket through a tag: no closure (and no retained upgrade
    // request) per connection.
    tagSocket(ws, socket);
    tagSocket(raw, socket);
    listenTo(ws, raw);
    this.options.connections.handOver(raw); // its place is given back in `onEnded`

    const current = this.options.workerVersion();
    if (isOutdatedClient(current, version, request.headers['user-agent'])) {
      this.options.logLimiter.log('ws-outdated-client', socket.clientAddress, (note) =>
        this.context.logger.info(
          { socket: socket.id, version: version?.slice(0, 40), current, ...note },
          'outdated web client told to reload',
        ),
      );
      socket.close(CloseCode.CLEAN, OUTDATED_VERSION);
    }
  }

  private refuse(socket: Duplex, rejection: HandshakeRejection, request: IncomingMessage): void {
    this.options.metrics.handshakeRejected.labels(rejection.reason).inc();
    const ip = clientIdentity(request, this.options.proxyTrust).address;
    this.options.logLimiter.log('ws-handshake-refused', ip, (note) =>
      this.context.logger.info(
        { status: rejection.status, reason: rejection.reason, ip, path: request.url, ...note },
        'websocket handshake refused',
      ),
    );
    socket.end(rejectionResponse(rejection));
  }

  private forget(socket: OdooSocket): void {
    this.options.hub.unsubscribe(socket);
    this.sessions.remove(socket);
    socket.releaseSubscription();
  }

  private sweep(): void {
    const now = this.options.clock();
    for (const socket of this.sockets) {
      // One socket's fault must not stop the sweep of all the others.
      try {
        socket.sweep(now);
      } catch (error) {
        socket.caught('ws-sweep', error);
      }
    }
    this.context.handOffs.sweep(now, this.context.settings.lateCommitWindowMs);
    for (const [sid, rotation] of this.rotations) {
      if (rotation.until <= now) this.rotations.delete(sid);
    }
  }
}
