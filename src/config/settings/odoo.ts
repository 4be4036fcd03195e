/**
 * Settings of the sidecar's calls to Odoo's HTTP workers: how many at once, how many waiting, for
 * how long, and how much of an answer is read.
 */
import { z } from 'zod';
import { positiveInt, setting } from './setting.js';

/** Calls to Odoo: concurrency, queues, answer sizes, time limits. */
export const odooCallSettings = {
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
} as const;
