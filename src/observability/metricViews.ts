/**
 * What the operator's gauges read when scraped, and what the status page shows: small read-only
 * accessors over the sidecar's state (the hub's registry, the transports, the read pools, the
 * readers). Nothing on a hot path keeps a count for them: each is read when asked, at most once a
 * second by the status page and once per scrape by Prometheus.
 */

export interface DatabaseClients {
  db: string;
  websockets: number;
  longPolls: number;
}

export interface ReadPoolState {
  db: string;
  /** Connections held. */
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
}

export interface MetricViews {
  ready(): boolean | Promise<boolean>;
  hub(): { subscribers: number; subscriptions: number; channels: number };
  sessions(): { websocket: number; longpolling: number };
  clients(): Iterable<DatabaseClients>;
  readPools(): Iterable<ReadPoolState>;
  holes(): Iterable<{ db: string; holes: number }>;
  limits(): { readPoolSize: number; odooConcurrency: number; odooQueueLimit: number };
}

/** Views of a sidecar that is not wired yet: nothing served, not ready. */
export function emptyViews(): MetricViews {
  return {
    ready: () => false,
    hub: () => ({ subscribers: 0, subscriptions: 0, channels: 0 }),
    sessions: () => ({ websocket: 0, longpolling: 0 }),
    clients: () => [],
    readPools: () => [],
    holes: () => [],
    limits: () => ({ readPoolSize: 0, odooConcurrency: 0, odooQueueLimit: 0 }),
  };
}
