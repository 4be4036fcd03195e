/**
 * Every setting of the sidecar, declared once: its key, where it can come from (odoo.conf option,
 * environment variables, command-line flag), its zod type with default, and the sentence that
 * documents it. `load.ts` merges the sources, the README's configuration table is generated from
 * this list, and a test keeps the two in step.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export interface SettingSource {
  /** Environment variables, first one set wins. */
  env: readonly string[];
  /** `[options]` keys of an odoo.conf, first one set wins. */
  odoo?: readonly string[];
  /**
   * libpq's environment variable for the same thing, read as libpq reads it for Odoo: only when
   * neither the sidecar's own sources nor odoo.conf give a value.
   */
  libpq?: string;
  /** Long command-line flag without the leading dashes. */
  flag: string;
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegative = z.coerce.number().min(0);
const bool = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  const text = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
  ctx.addIssue({ code: 'custom', message: `expected a boolean, got "${value}"` });
  return z.NEVER;
});
const optionalText = z
  .string()
  .transform((v) => (v.trim() === '' ? undefined : v))
  .optional();
const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) =>
    (Array.isArray(v) ? v : v.split(',')).map((item) => item.trim()).filter((item) => item !== ''),
  );

/** Addresses or CIDR ranges (`10.0.0.0/8`, `::1`): the reverse proxies whose headers are believed. */
const addressList = list.superRefine((items, ctx) => {
  for (const item of items) {
    const [address = '', bits, ...rest] = item.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const validBits =
      bits === undefined ||
      (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits && rest.length === 0);
    if (family === 0 || !validBits) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not an IP address or CIDR range` });
    }
  }
});

export const SSL_MODES = [
  'disable',
  'allow',
  'prefer',
  'require',
  'verify-ca',
  'verify-full',
] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** libpq's default socket directory in Debian's build, the one Debian's packaged Odoo uses. */
export const LIBPQ_SOCKET_DIR = '/var/run/postgresql';

function setting<T extends z.ZodType>(
  schema: T,
  source: SettingSource,
  description: string,
  /** The default as the README shows it, when the schema's own default does not tell it. */
  shownDefault?: string,
) {
  return { schema, source, description, shownDefault };
}

export const settings = {
  // --- PostgreSQL -------------------------------------------------------------------------------
  dbHost: setting(
    z.string().min(1).default(LIBPQ_SOCKET_DIR),
    { env: ['DB_HOST'], odoo: ['db_host'], libpq: 'PGHOST', flag: 'db-host' },
    "PostgreSQL host of Odoo's databases (often PgBouncer). A path is a Unix socket directory. Unset (or `False`, as in Debian's packaged odoo.conf): the local Unix socket, as libpq connects Odoo (peer authentication works).",
  ),
  dbPort: setting(
    port.default(5432),
    { env: ['DB_PORT'], odoo: ['db_port'], libpq: 'PGPORT', flag: 'db-port' },
    'PostgreSQL port matching `dbHost`.',
  ),
  dbUser: setting(
    optionalText,
    { env: ['DB_USER'], odoo: ['db_user'], libpq: 'PGUSER', flag: 'db-user' },
    'PostgreSQL role; it needs SELECT on `bus_bus` and its sequence, nothing more.',
    'the OS user',
  ),
  dbPassword: setting(
    optionalText,
    { env: ['DB_PASSWORD'], odoo: ['db_password'], libpq: 'PGPASSWORD', flag: 'db-password' },
    'PostgreSQL password. Unset (or `False`): none, then `~/.pgpass` as libpq.',
  ),
  dbSslMode: setting(
    z.enum(SSL_MODES).default('prefer'),
    { env: ['DB_SSLMODE'], odoo: ['db_sslmode'], libpq: 'PGSSLMODE', flag: 'db-sslmode' },
    "TLS to PostgreSQL and PgBouncer, libpq's modes as Odoo passes them: `prefer` (Odoo's default) uses TLS when the server offers it, `require` insists without checking the certificate (unless `dbSslRootCert` is given), `verify-ca` checks it against `dbSslRootCert`, `verify-full` also checks the host name. Never over a Unix socket.",
  ),
  dbSslRootCert: setting(
    optionalText,
    { env: [], libpq: 'PGSSLROOTCERT', flag: 'db-sslrootcert' },
    "CA certificates (PEM file) the server's certificate must chain to; `system` for the system's CAs. Default `~/.postgresql/root.crt` when it exists, as libpq.",
  ),
  dbSslCert: setting(
    optionalText,
    { env: [], libpq: 'PGSSLCERT', flag: 'db-sslcert' },
    'Client certificate (PEM file) for certificate authentication. Default `~/.postgresql/postgresql.crt` when it exists.',
  ),
  dbSslKey: setting(
    optionalText,
    { env: [], libpq: 'PGSSLKEY', flag: 'db-sslkey' },
    'Key of `dbSslCert`. Default `~/.postgresql/postgresql.key` when it exists.',
  ),
  listenDbHost: setting(
    optionalText,
    {
      env: ['IMDISPATCHER_DB_HOST', 'ODOO_IMDISPATCHER_DB_HOST'],
      odoo: ['imdispatcher_db_host'],
      flag: 'imdispatcher-db-host',
    },
    'Host for the one LISTEN connection. Must reach PostgreSQL directly, never PgBouncer in transaction mode. Defaults to `dbHost`.',
  ),
  listenDbPort: setting(
    port.optional(),
    {
      env: ['IMDISPATCHER_DB_PORT', 'ODOO_IMDISPATCHER_DB_PORT'],
      odoo: ['imdispatcher_db_port'],
      flag: 'imdispatcher-db-port',
    },
    'Port for the LISTEN connection. Defaults to `dbPort`.',
  ),
  readDbHost: setting(
    optionalText,
    { env: ['SIDECAR_READ_DB_HOST'], flag: 'read-db-host' },
    'Host for the batched reads of `bus_bus` (PgBouncer is fine). Defaults to `dbHost`.',
  ),
  readDbPort: setting(
    port.optional(),
    { env: ['SIDECAR_READ_DB_PORT'], flag: 'read-db-port' },
    'Port for the reads of `bus_bus`. Defaults to `dbPort`.',
  ),
  readPoolSize: setting(
    positiveInt.max(20).default(2),
    { env: ['SIDECAR_READ_POOL_SIZE'], flag: 'read-pool-size' },
    'Connections kept per Odoo database for reading `bus_bus`.',
  ),
  notifyDatabase: setting(
    z.string().min(1).default('postgres'),
    { env: ['SIDECAR_NOTIFY_DB'], odoo: ['db_system'], flag: 'notify-db' },
    'Database on which Odoo sends `NOTIFY imbus` (Odoo always uses `postgres`).',
  ),
  databases: setting(
    list.default([]),
    { env: ['SIDECAR_DB_NAME'], odoo: ['db_name'], flag: 'db-name' },
    'Comma-separated Odoo databases this sidecar serves; empty serves any.',
  ),
  dbFilter: setting(
    optionalText,
    { env: ['SIDECAR_DBFILTER'], odoo: ['dbfilter'], flag: 'dbfilter' },
    "Regular expression the served databases must match, as Odoo's `dbfilter` (`%h`/`%d` forms are left to Odoo).",
  ),

  // --- HTTP -------------------------------------------------------------------------------------
  host: setting(
    z.string().min(1).default('0.0.0.0'),
    { env: ['SIDECAR_HOST'], odoo: ['http_interface'], flag: 'host' },
    'Interface the sidecar listens on.',
  ),
  port: setting(
    port.default(8072),
    { env: ['SIDECAR_PORT'], odoo: ['longpolling_port', 'gevent_port'], flag: 'port' },
    "Port the sidecar listens on: Odoo's `gevent_port` (8072), the one the proxy already routes `/websocket` to (`longpolling_port`, its older name, wins when not 0, as in Odoo 16-18).",
  ),
  odooUrl: setting(
    z.url().default('http://127.0.0.1:8069'),
    { env: ['SIDECAR_ODOO_URL'], flag: 'odoo-url' },
    "Base URL of Odoo's HTTP workers, called for channel authorization, presence and forwarded routes. With `--odoo-config`, the default is `http://127.0.0.1:<http_port>`.",
  ),
  proxyMode: setting(
    bool.default(false),
    { env: ['SIDECAR_PROXY_MODE'], odoo: ['proxy_mode'], flag: 'proxy-mode' },
    "Believe `X-Forwarded-For/Host/Proto` on requests from `trustedProxies`, as Odoo's `proxy_mode` does (which is why odoo.conf's `proxy_mode` sets it). Off, or from any other address: the client is the peer address and its `Host`, and its own `X-Forwarded-*` never reach Odoo.",
  ),
  trustedProxies: setting(
    addressList.default(['127.0.0.0/8', '::1']),
    { env: ['SIDECAR_TRUSTED_PROXIES'], flag: 'trusted-proxies' },
    'Comma-separated addresses or CIDR ranges of the reverse proxies whose forwarded headers `proxyMode` believes.',
  ),
  crossOrigin: setting(
    z.enum(['downgrade', 'reject', 'allow']).default('downgrade'),
    { env: ['SIDECAR_CROSS_ORIGIN'], flag: 'cross-origin' },
    "Websocket whose `Origin` is not the page's host: `downgrade` serves it as a public visitor without the browser's cookies, `reject` answers 403, `allow` trusts the cookies as Odoo does by default.",
  ),
  secret: setting(
    optionalText,
    { env: ['BUS_SIDECAR_SECRET'], odoo: ['bus_sidecar_secret'], flag: 'secret' },
    "Shared secret for the `bus_sidecar` addon's info route (same value on both sides).",
  ),
  workerVersion: setting(
    optionalText,
    { env: ['SIDECAR_WORKER_VERSION'], flag: 'worker-version' },
    "Odoo's `websocket_worker_version`, when the addon's info route cannot tell it (Odoo itself only puts it in its pages' session info). Unknown: no `OUTDATED_VERSION` closes.",
  ),
  odooVersion: setting(
    z.union([z.literal('auto'), z.coerce.number().int().min(12).max(19)]).default('auto' as const),
    { env: ['SIDECAR_ODOO_VERSION'], flag: 'odoo-version' },
    "Odoo major version served (12-19): 12-15 deliver the bus by long polling, 16+ by websocket. `auto` learns it from the addon's info route (or its poll route), else from Odoo's `/web/webclient/version_info`.",
  ),

  // --- Calls to Odoo ----------------------------------------------------------------------------
  odooWorkers: setting(
    z.coerce.number().int().min(0).optional(),
    { env: ['SIDECAR_ODOO_WORKERS'], odoo: ['workers'], flag: 'odoo-workers' },
    "Odoo's `workers` (prefork HTTP workers; 0: threaded). It bounds `odooConcurrency`.",
  ),
  odooConcurrency: setting(
    positiveInt.max(256).optional(),
    { env: ['SIDECAR_ODOO_CONCURRENCY'], flag: 'odoo-concurrency' },
    "The sidecar's own calls to Odoo's HTTP workers (subscribe, presence, disconnect, poll) in flight at once, per worker process. Keep the total below Odoo's `workers` so that the web UI always finds a free worker (a warning says when it is not).",
    '4; with `odooWorkers`, half of them over `workers`',
  ),
  odooQueueLimit: setting(
    positiveInt.default(5000),
    { env: ['SIDECAR_ODOO_QUEUE_LIMIT'], flag: 'odoo-queue-limit' },
    "The sidecar's own calls waiting for a free slot; past it a subscribe is refused with close code 1013 (a long poll with a JSON-RPC error, which its client retries).",
  ),
  odooQueueWaitMs: setting(
    positiveInt.default(30_000),
    { env: ['SIDECAR_ODOO_QUEUE_WAIT_MS'], flag: 'odoo-queue-wait-ms' },
    'Longest wait of a call or forwarded request for a free slot; past it, it is refused as when the queue is full (a forwarded request with 503).',
  ),
  odooSlotsPerAddress: setting(
    positiveInt.optional(),
    { env: ['SIDECAR_ODOO_SLOTS_PER_ADDRESS'], flag: 'odoo-slots-per-address' },
    "Slots one client address may hold at once, in each queue (the sidecar's calls, forwarded requests): slow requests of one client never take every slot.",
    "half of the queue's slots, at least 1",
  ),
  odooQueuePerAddress: setting(
    positiveInt.optional(),
    { env: ['SIDECAR_ODOO_QUEUE_PER_ADDRESS'], flag: 'odoo-queue-per-address' },
    'Places one client address may hold in each queue; past it its calls are refused as when the queue is full. Waiting calls are served round-robin between addresses, and within one between sessions.',
    "a tenth of the queue's places, at least 1",
  ),
  forwardConcurrency: setting(
    positiveInt.max(256).default(2),
    { env: ['SIDECAR_FORWARD_CONCURRENCY'], flag: 'forward-concurrency' },
    'Browser requests forwarded to Odoo (the `/websocket/*` and `/longpolling/*` routes the sidecar does not serve) in flight at once: a queue of their own, so they never wait behind subscribes, nor subscribes behind them.',
  ),
  forwardQueueLimit: setting(
    positiveInt.default(500),
    { env: ['SIDECAR_FORWARD_QUEUE_LIMIT'], flag: 'forward-queue-limit' },
    'Forwarded requests waiting for a free slot (each holds its connection); past it the answer is 503.',
  ),
  maxCallAnswerBytes: setting(
    positiveInt.min(64 * 1024).default(8 * 1024 * 1024),
    { env: ['SIDECAR_MAX_CALL_ANSWER_BYTES'], flag: 'max-call-answer-bytes' },
    "Bytes read of one answer of Odoo to the sidecar's own calls (subscribe, poll, presence), which are parsed whole, in slices. A larger catch-up (a subscribe with an old `last`) is delivered in parts: the rows that fit, then close 4002, after which the client at once subscribes again from the last row it got; a long poll answers with the rows that fit and the next poll goes on. A single notification larger than this cannot be delivered: logged, and the socket closes with 1014.",
  ),
  odooTimeoutMs: setting(
    positiveInt.default(15_000),
    { env: ['SIDECAR_ODOO_TIMEOUT_MS'], flag: 'odoo-timeout-ms' },
    'Time limit of one call to Odoo once it is sent.',
  ),
  infoRefreshSeconds: setting(
    positiveInt.default(15),
    { env: ['SIDECAR_INFO_REFRESH_SECONDS'], flag: 'info-refresh-seconds' },
    "How often Odoo is asked whether it answers (readiness) and for its version: the addon's info route with a secret, else `/web/webclient/version_info`. While it does not answer, sooner, with backoff.",
  ),

  // --- Websocket --------------------------------------------------------------------------------
  rateLimitBurst: setting(
    positiveInt.default(10),
    {
      env: ['SIDECAR_RATE_LIMIT_BURST'],
      odoo: ['websocket_rate_limit_burst'],
      flag: 'rate-limit-burst',
    },
    'Frames a client may send in a burst (Odoo: 10) before close 1013.',
  ),
  rateLimitDelay: setting(
    nonNegative.default(0.2),
    {
      env: ['SIDECAR_RATE_LIMIT_DELAY'],
      odoo: ['websocket_rate_limit_delay'],
      flag: 'rate-limit-delay',
    },
    'Seconds per frame of the rate limit (Odoo: 0.2, so 10 frames in 2 s).',
  ),
  keepAliveTimeoutSeconds: setting(
    positiveInt.default(3600),
    {
      env: ['SIDECAR_KEEP_ALIVE_TIMEOUT'],
      odoo: ['websocket_keep_alive_timeout'],
      flag: 'keep-alive-timeout',
    },
    'Maximum age of a socket before close 4002, plus up to 50% random spread (Odoo: 3600).',
  ),
  pingAfterSeconds: setting(
    positiveInt.default(40),
    { env: ['SIDECAR_PING_AFTER_SECONDS'], flag: 'ping-after-seconds' },
    'Silence after which the server pings a socket (Odoo 18: 40).',
  ),
  pongTimeoutSeconds: setting(
    positiveInt.default(15),
    { env: ['SIDECAR_PONG_TIMEOUT_SECONDS'], flag: 'pong-timeout-seconds' },
    'Time to answer a ping before the connection is dropped (Odoo: 15).',
  ),
  sessionRecheckSeconds: setting(
    positiveInt.default(300),
    { env: ['SIDECAR_SESSION_RECHECK_SECONDS'], flag: 'session-recheck-seconds' },
    'How often each socket asks Odoo again whether its session is valid (4001 when not).',
  ),
  revocationIntervalSeconds: setting(
    z.coerce.number().positive().max(3600).default(2),
    { env: ['SIDECAR_REVOCATION_INTERVAL_SECONDS'], flag: 'revocation-interval-seconds' },
    "A partner named by the addon's revocation NOTIFYs has its sockets re-validated at most once per interval; more revocations within it are merged into one round at its end.",
  ),
  revocationMaxPartners: setting(
    positiveInt.default(1000),
    { env: ['SIDECAR_REVOCATION_MAX_PARTNERS'], flag: 'revocation-max-partners' },
    'Partners re-validated per revocation interval, all databases together; past it they are counted and left to the periodic re-check.',
  ),
  maxBufferedBytes: setting(
    positiveInt.default(4 * 1024 * 1024),
    { env: ['SIDECAR_MAX_BUFFERED_BYTES'], flag: 'max-buffered-bytes' },
    'Unsent bytes a socket may hold before it is closed as a slow consumer (1013).',
  ),
  maxChannelsPerSubscribe: setting(
    positiveInt.default(2000),
    { env: ['SIDECAR_MAX_CHANNELS'], flag: 'max-channels' },
    'Channel strings accepted in one `subscribe`; larger ones are refused and logged.',
  ),

  // --- Input limits ------------------------------------------------------------------------------
  maxChannelLength: setting(
    positiveInt.default(512),
    { env: ['SIDECAR_MAX_CHANNEL_LENGTH'], flag: 'max-channel-length' },
    "Characters of one channel string in a `subscribe` (Odoo 19's presence channels have about 100); a longer one refuses the whole subscribe, as Odoo refuses a subscribe with a channel that is not a string.",
  ),
  maxSubscribeBytes: setting(
    positiveInt.default(256 * 1024),
    { env: ['SIDECAR_MAX_SUBSCRIBE_BYTES'], flag: 'max-subscribe-bytes' },
    'Bytes of one `subscribe` message; a larger one is refused and logged. Any message over 1 MiB closes the socket with 1009, as in Odoo.',
  ),
  maxRequestBodyBytes: setting(
    positiveInt.default(256 * 1024),
    { env: ['SIDECAR_MAX_REQUEST_BODY_BYTES'], flag: 'max-request-body-bytes' },
    "Bytes of a request body on the bus routes (forwarded to Odoo, or a long poll); larger ones get werkzeug's 413 and are not read further.",
  ),
  maxOdooAnswerBytes: setting(
    positiveInt.default(64 * 1024 * 1024),
    { env: ['SIDECAR_MAX_ODOO_ANSWER_BYTES'], flag: 'max-odoo-answer-bytes' },
    "Bytes of one forwarded answer from Odoo. Forwarded answers are streamed, never held whole: one announced larger gets 502, one that streams past it is cut. The sidecar's own calls have their own bound (`maxCallAnswerBytes`).",
  ),

  // --- Capacity ---------------------------------------------------------------------------------
  maxConnections: setting(
    positiveInt.optional(),
    { env: ['SIDECAR_MAX_CONNECTIONS'], flag: 'max-connections' },
    'Websockets and long polls held at once by one process; past it a handshake gets 503 (the client retries with backoff), a poll a JSON-RPC error. The rest of the open files keeps `/healthz`, `/readyz`, `/metrics`, forwarded requests and the connections to PostgreSQL and Odoo working.',
    "90% of the process's open-file limit (`/proc/self/limits`; 4096 assumed elsewhere)",
  ),
  maxConnectionsPerAddress: setting(
    positiveInt.default(1000),
    { env: ['SIDECAR_MAX_CONNECTIONS_PER_ADDRESS'], flag: 'max-connections-per-address' },
    'Websockets and long polls one client address may hold at once in one process (answered as above). Raise it when many users share an address (a NAT); Odoo 16+ opens one websocket per browser, not per tab.',
  ),
  maxSubscribedBytesPerAddress: setting(
    positiveInt.default(8 * 1024 * 1024),
    { env: ['SIDECAR_MAX_SUBSCRIBED_BYTES_PER_ADDRESS'], flag: 'max-subscribed-bytes-per-address' },
    'Bytes of channel names (each counted with 64 bytes of overhead) that the sockets and polls of one client address may hold subscribed together; a subscribe past it closes its socket with 1013, a poll gets a JSON-RPC error. Many small sockets from one address add up to this.',
  ),
  maxSubscribedBytes: setting(
    positiveInt.optional(),
    { env: ['SIDECAR_MAX_SUBSCRIBED_BYTES'], flag: 'max-subscribed-bytes' },
    'The same for all clients of one process together; what is held per byte of channel name is about three times that.',
    "an eighth of the JavaScript heap limit (Node's `--max-old-space-size`)",
  ),

  // --- Long polling (Odoo 12-15) -----------------------------------------------------------------
  longpollingTimeoutSeconds: setting(
    positiveInt.max(55).default(50),
    { env: ['SIDECAR_LONGPOLLING_TIMEOUT'], flag: 'longpolling-timeout' },
    'How long `/longpolling/poll` holds a poll with nothing to deliver before answering `[]` (Odoo: 50; its client gives up after 60).',
  ),
  presenceRefreshSeconds: setting(
    nonNegative.max(30).default(20),
    { env: ['SIDECAR_PRESENCE_REFRESH_SECONDS'], flag: 'presence-refresh-seconds' },
    "A poll's presence update (`bus_inactivity`) is passed to Odoo when the last one passed for its session is this old, or when it can change the user's status; `0` passes every one, as Odoo writes them.",
  ),

  // --- Reader -----------------------------------------------------------------------------------
  coalesceMs: setting(
    nonNegative.max(1000).default(5),
    { env: ['SIDECAR_COALESCE_MS'], flag: 'coalesce-ms' },
    'Reads of `bus_bus` start at least this far apart: NOTIFYs arriving within the window after a read are served by one more read; a NOTIFY after a quiet spell is read at once.',
  ),
  readBatchSize: setting(
    positiveInt.default(5000),
    { env: ['SIDECAR_READ_BATCH_SIZE'], flag: 'read-batch-size' },
    'Rows per read of `bus_bus`; a full batch is followed at once by the next.',
  ),
  lateCommitWindowSeconds: setting(
    positiveInt.default(300),
    { env: ['SIDECAR_LATE_COMMIT_WINDOW'], flag: 'late-commit-window' },
    'How long an id missing from the sequence is watched for a late commit (Odoo 17/18: 10 s).',
  ),
  recentRowsSeconds: setting(
    positiveInt.default(60),
    { env: ['SIDECAR_RECENT_ROWS_SECONDS'], flag: 'recent-rows-seconds' },
    'Rows kept in memory to close the gap between a subscribe and its first delivery.',
  ),
  maxFrameBytes: setting(
    positiveInt
      .min(65_536)
      .max(256 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    { env: ['SIDECAR_MAX_FRAME_BYTES'], flag: 'max-frame-bytes' },
    'Largest notification frame: a read of `bus_bus` takes at most this many bytes of rows, and a delivery larger than it is split into several frames (ids stay ascending). A single row larger than it is sent alone, as Odoo would. Keep it at or below `maxBufferedBytes`.',
  ),
  maxRowBytes: setting(
    positiveInt
      .min(65_536)
      .max(256 * 1024 * 1024)
      .default(64 * 1024 * 1024),
    { env: ['SIDECAR_MAX_ROW_BYTES'], flag: 'max-row-bytes' },
    'A `bus_bus` row whose message is larger is not loaded: it is skipped with an error line and counted (`bus_oversized_rows_total`), and no client receives it (Odoo would send it whole).',
  ),
  stateDir: setting(
    optionalText,
    { env: ['SIDECAR_STATE_DIR'], flag: 'state-dir' },
    'Directory of the restart journal: the ids each reader watches for a late commit, so that a row committing while the sidecar is stopped (even by `kill -9`) still reaches the browsers coming back. Default: a private directory in the system temporary directory when the port is fixed; `off` disables it.',
  ),
  pollFallbackMs: setting(
    positiveInt.default(1000),
    { env: ['SIDECAR_POLL_FALLBACK_MS'], flag: 'poll-fallback-ms' },
    'While the LISTEN connection is down, `bus_bus` is polled this often so delivery goes on.',
  ),

  listenProbeSeconds: setting(
    positiveInt.default(15),
    { env: ['SIDECAR_LISTEN_PROBE_SECONDS'], flag: 'listen-probe-seconds' },
    'How often the LISTEN path is proven end to end: a NOTIFY with a random token, sent on a read connection, must come back on the LISTEN connection (also once before the listener first reports up).',
  ),
  listenProbeTimeoutMs: setting(
    positiveInt.default(5000),
    { env: ['SIDECAR_LISTEN_PROBE_TIMEOUT_MS'], flag: 'listen-probe-timeout-ms' },
    'Time for the round trip (and for the `SELECT 1` check) to come back; past it the LISTEN connection counts as down, is re-opened, and bus_bus is polled meanwhile.',
  ),

  // --- Process ----------------------------------------------------------------------------------
  shutdownWindowSeconds: setting(
    nonNegative.default(10),
    { env: ['SIDECAR_SHUTDOWN_WINDOW'], flag: 'shutdown-window' },
    'On SIGTERM, sockets are closed with 1012 spread over this many seconds, so clients do not reconnect all at once.',
  ),
  shutdownTimeoutSeconds: setting(
    positiveInt.default(30),
    { env: ['SIDECAR_SHUTDOWN_TIMEOUT'], flag: 'shutdown-timeout' },
    'Hard limit for a graceful shutdown; a second signal exits at once.',
  ),
  workers: setting(
    positiveInt.max(64).default(1),
    { env: ['SIDECAR_WORKERS'], flag: 'workers' },
    'Worker processes sharing the port, each with its own LISTEN connection and reader.',
  ),
  logLevel: setting(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    { env: ['SIDECAR_LOG_LEVEL'], odoo: ['log_level'], flag: 'log-level' },
    'Log level (odoo.conf `log_level` values `debug_rpc`... are mapped to `debug`).',
  ),
} as const;

export type SettingKey = keyof typeof settings;

const shape = Object.fromEntries(Object.entries(settings).map(([key, s]) => [key, s.schema])) as {
  [K in SettingKey]: (typeof settings)[K]['schema'];
};

export const configSchema = z.object(shape).strict();

export type RawConfig = z.output<typeof configSchema>;
