/** What every transport (websocket, long polling) is built from; wired once in `sidecar.ts`. */

import type { ReaderViews } from '../bus/readerView.js';
import type { ConnectionCaps } from '../capacity/connectionCaps.js';
import type { SubscriptionBudget } from '../capacity/subscriptionBudget.js';
import type { Config } from '../config/load.js';
import type { Hub, HubSubscriber } from '../hub/hub.js';
import type { Clock } from '../lifecycle/clock.js';
import type { CaughtErrors } from '../observability/caught.js';
import type { Logger } from '../observability/logger.js';
import type { LogLimiter } from '../observability/logLimiter.js';
import type { Metrics } from '../observability/metrics.js';
import type { OdooClient } from '../odoo/client.js';
import type { ProxyTrust } from './clientIdentity.js';

export interface TransportDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** One hub for both transports: its registry holds sockets and held polls alike. */
  hub: Hub<HubSubscriber>;
  /** Every database's reader, as much as closing the gap around a subscribe needs. */
  readers: ReaderViews;
  odoo: OdooClient;
  /** Whose forwarding headers are believed (see `clientIdentity`). */
  proxyTrust: ProxyTrust;
  servesDatabase: (db: string) => boolean;
  /** Odoo's major version when known (settings, the addon's info route, Odoo's version_info). */
  odooMajor: () => number | undefined;
  /** Connections held by websockets and long polls together, overall and per client address. */
  connections: ConnectionCaps;
  /** Channel lists held by websockets and long polls together, overall and per client address. */
  subscriptions: SubscriptionBudget;
  /** The clock of every deadline (monotonic; tests may step it). */
  clock: Clock;
  /** Bounds the lines a client can make the log repeat. */
  logLimiter: LogLimiter;
  /** Where listeners and background tasks hand what they did not expect. */
  caught: CaughtErrors;
}
