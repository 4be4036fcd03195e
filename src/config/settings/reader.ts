/**
 * Settings of the readers of `bus_bus` and of the LISTEN path, and of the process itself.
 */
import { z } from 'zod';
import { nonNegative, optionalText, positiveInt, setting } from './setting.js';

/** The readers of `bus_bus` (coalescing, batches, holes, recent rows, frames, the journal), LISTEN. */
export const readerSettings = {
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
} as const;
/** The process: shutdown, workers, log level. */
export const processSettings = {
  shutdownWindowSeconds: setting(
    // 0: measured through a real Odoo, a 10 s window made a single sidecar's restart take 95 s
    // instead of 31 s — its clients cannot come back before the new process listens, and the
    // draining one answers their retries with 503, which only grows their backoff.
    nonNegative.default(0),
    { env: ['SIDECAR_SHUTDOWN_WINDOW'], flag: 'shutdown-window' },
    'On SIGTERM, sockets are closed with 1012 spread over this many seconds (0: all at once). A single sidecar restarts fastest with 0; with several behind a proxy, a few seconds spread the reconnects over the others.',
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
