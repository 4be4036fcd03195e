/**
 * What every socket of the websocket server shares (`SocketContext`), its settings, and the one
 * phase of a socket's life (`SocketPhase`).
 */
import type { ReaderViews } from '../../bus/readerView.js';
import type { SubscriptionBudget } from '../../capacity/subscriptionBudget.js';
import type { Hub, HubSubscriber } from '../../hub/hub.js';
import type { Clock } from '../../lifecycle/clock.js';
import type { CaughtErrors } from '../../observability/caught.js';
import type { Logger } from '../../observability/logger.js';
import type { LogLimiter } from '../../observability/logLimiter.js';
import type { Metrics } from '../../observability/metrics.js';
import type { OdooClient } from '../../odoo/client.js';
import type { ParkedHandOffs } from '../handOff.js';
import type { MessageLimits } from './clientMessage.js';
import type { OdooSocket } from './odooSocket.js';

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
  /** Every database's reader: where a subscribe's catch-up is closed against what was read. */
  readers: ReaderViews;
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

/**
 * Where a socket is in its life; one value instead of a flag per fact.
 * - `opening`: no subscribe answered yet; presence waits (Odoo refuses it before a subscribe).
 * - `refused`: Odoo refused the first subscribe (an RPC error); the socket stays open, presence
 *   no longer waits but is not forwarded, the next subscribe asks again as a first poll.
 * - `subscribed`: Odoo granted a subscription; re-validations run, presence is forwarded, and Odoo
 *   is told when the socket ends (`on_closed`).
 * - `handedOver`: a catch-up part was sent; the client resumes at once on a new socket, so Odoo is
 *   not told it left.
 * - `closing` / `closingSubscribed`: the socket takes no rows and sends nothing; the second tells
 *   Odoo the user left once the connection is gone.
 */
export type SocketPhase =
  | 'opening'
  | 'refused'
  | 'subscribed'
  | 'handedOver'
  | 'closing'
  | 'closingSubscribed';

export function isClosingPhase(phase: SocketPhase): boolean {
  return phase === 'closing' || phase === 'closingSubscribed';
}

/**
 * A clock reading in whole milliseconds. The clock's fractions would make each timestamp field a
 * boxed number (16 more bytes per field and socket); whole milliseconds below 2^31 (24 days of the
 * monotonic clock) stay inside the object. Deadlines move by less than a millisecond.
 */
export function wholeMs(time: number): number {
  return Math.floor(time);
}
