/**
 * Settings of what clients get and may do: websocket timers and rate limits, the bounds of one
 * message, the connections and subscriptions held, long polling.
 */
import { z } from 'zod';
import { nonNegative, positiveInt, setting } from './setting.js';

/** Websocket: rate limit, keep-alive, ping, session re-checks, revocations, buffers. */
export const websocketSettings = {
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
} as const;
/** The bounds of one client message or request. */
export const inputLimitSettings = {
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
} as const;
/** Connections and subscribed bytes held, overall and per client address. */
export const capacitySettings = {
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
} as const;
/** Long polling (Odoo 12-15). */
export const longPollingSettings = {
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
} as const;
