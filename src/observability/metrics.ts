/**
 * Prometheus metrics, one registry per sidecar instance (tests run several in one process). Every
 * fault and rejection has a counter; label series that alerts watch are created at zero.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { REVOCATION_OUTCOMES } from '../odoo/revocation.js';
import { operatorMetrics } from './operatorMetrics.js';

const PREFIX = 'odoo_bus_sidecar_';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name: PREFIX + name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name: PREFIX + name, help, labelNames, registers: [registry] });

  const written = { frames: 0, notifications: 0, bytes: 0 };
  const metrics = {
    registry,
    listenerUp: new Gauge({
      name: `${PREFIX}listener_up`,
      help: '1 while the LISTEN connection is established and its round trip works',
      registers: [registry],
      // Each worker of a cluster holds one: the cluster's is up when every worker's is.
      aggregator: 'min',
    }),
    listenerReconnects: counter(
      'listener_reconnects_total',
      'LISTEN connections lost and re-opened',
    ),
    listenerErrors: counter('listener_errors_total', 'Errors of the LISTEN connection', ['stage']),
    notifications: counter('notify_received_total', 'NOTIFY messages received', ['channel']),
    notifyMalformed: counter(
      'notify_malformed_total',
      'NOTIFY payloads that could not be read (skipped)',
    ),
    reads: counter('bus_reads_total', 'Reads of bus_bus', ['outcome']),
    rowsRead: counter('bus_rows_read_total', 'bus_bus rows read'),
    rowsMalformed: counter(
      'bus_rows_malformed_total',
      'bus_bus rows skipped because their channel or message is not JSON',
    ),
    lateRows: counter(
      'bus_late_rows_total',
      'Rows that committed after a higher id had been read, delivered late',
    ),
    holesExpired: counter(
      'bus_holes_expired_total',
      'Ids missing from bus_bus given up after the late-commit window',
    ),
    holes: gauge('bus_holes', 'Ids below the read position still watched for a late commit'),
    sockets: gauge('ws_connections', 'Open websocket connections'),
    socketsOpened: counter('ws_connections_total', 'Websocket connections accepted'),
    handshakeRejected: counter('ws_handshake_rejected_total', 'Websocket handshakes refused', [
      'reason',
    ]),
    closes: counter(
      'ws_closes_total',
      'Websocket connections closed by the server, by close code',
      ['code'],
    ),
    clientMessages: counter('ws_messages_total', 'Messages received from clients', ['event']),
    invalidMessages: counter('ws_invalid_messages_total', 'Client messages refused', ['reason']),
    crossOriginDowngraded: counter(
      'ws_cross_origin_downgraded_total',
      'Websockets whose Origin is not the page host, served as public visitors (check X-Forwarded-Host if this counts your own users)',
    ),
    slowConsumers: counter(
      'ws_slow_consumers_total',
      'Sockets closed because their unsent data passed the limit',
    ),
    rateLimited: counter(
      'ws_rate_limited_total',
      'Sockets closed for sending frames faster than the rate limit',
    ),
    framesSent: new Counter({
      name: `${PREFIX}ws_frames_sent_total`,
      help: 'Notification frames written to sockets',
      registers: [registry],
      collect() {
        this.inc(written.frames);
        written.frames = 0;
      },
    }),
    delivered: new Counter({
      name: `${PREFIX}ws_notifications_delivered_total`,
      help: 'Notifications delivered to sockets',
      registers: [registry],
      collect() {
        this.inc(written.notifications);
        written.notifications = 0;
      },
    }),
    /**
     * Frames and notifications written since the last scrape. A fan-out writes to tens of thousands
     * of sockets: each adds to these plain numbers, the two counters above take them when scraped.
     */
    written,
    odooCalls: counter('odoo_calls_total', 'Calls to Odoo HTTP', ['route', 'outcome']),
    odooCallsShared: counter(
      'odoo_calls_shared_total',
      "Browsers' calls to Odoo not made: answered by an identical call of the same session already in flight (tabs subscribing together)",
      ['route'],
    ),
    odooCallSeconds: new Histogram<'route'>({
      name: `${PREFIX}odoo_call_duration_seconds`,
      help: 'Duration of calls to Odoo HTTP',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    odooInFlight: gauge('odoo_in_flight', 'Calls to Odoo in flight'),
    odooQueued: gauge('odoo_queued', 'Calls to Odoo waiting for a slot'),
    revocations: counter('session_revocations_total', 'Sessions or partners named by the addon', [
      'kind',
    ]),
    // --- Revocation NOTIFYs (src/odoo/revocationHandler.ts) ---
    revocationNotifies: counter(
      'revocation_notifies_total',
      'Revocation NOTIFYs by outcome: applied (signed), unverified (no secret configured), malformed, no_database, other_database, unsigned, bad_signature; only the first two act',
      ['outcome'],
    ),
    revocationRechecks: counter(
      'revocation_rechecks_total',
      "Re-validations of named partners' sockets: immediate, deferred (to the end of the partner's interval), merged (into a deferred one), follow_up (asked again for workers behind)",
      ['kind'],
    ),
    revocationRechecksDropped: counter(
      'revocation_rechecks_dropped_total',
      'Named partners not re-validated because the budget per interval was spent (left to the periodic re-check)',
    ),
    pollsHeld: gauge('longpoll_held', 'Long polls (Odoo 12-15) waiting for a notification'),
    polls: counter(
      'longpoll_polls_total',
      'Long polls answered, by how: rows at once, rows while held, timeout, revoked, aborted by the client, error, handed to Odoo',
      ['outcome'],
    ),
    presenceUpdates: counter(
      'longpoll_presence_updates_total',
      "Long polls' presence updates, passed on to Odoo or left out (see the presence rule)",
      ['decision'],
    ),
    // --- Capacity: caps on what clients hold, fair queues of calls to Odoo ---------------------
    odooQueueRefused: counter(
      'odoo_queue_refused_total',
      "Calls to Odoo not made, per queue (the sidecar's calls, forwarded requests): queue full, the client address's share of places full, no slot before the deadline, or abandoned by their client",
      ['queue', 'reason'],
    ),
    forwardInFlight: gauge('odoo_forward_in_flight', 'Forwarded requests in flight to Odoo'),
    forwardQueued: gauge('odoo_forward_queued', 'Forwarded requests waiting for a slot'),
    odooAnswersCut: counter(
      'odoo_answers_cut_total',
      'Answers of Odoo larger than maxCallAnswerBytes, read up to the bound',
      ['route'],
    ),
    catchUpParts: counter(
      'catchup_parts_total',
      'Catch-ups too large for one answer, delivered in parts (the client resumes from the last row it got)',
      ['transport'],
    ),
    connectionsHeld: gauge(
      'connections_held',
      'Websockets and long polls held open (counted against maxConnections)',
    ),
    connectionsRefused: counter(
      'connections_refused_total',
      'Websocket handshakes and long polls refused by a connection cap (total or per address)',
      ['transport', 'cap'],
    ),
    subscribedBytes: gauge(
      'subscribed_bytes',
      'Size of the channel lists held by sockets and polls (counted against maxSubscribedBytes)',
    ),
    subscriptionsRefused: counter(
      'subscriptions_refused_total',
      'Subscribes and polls refused by a subscription size cap (total or per address)',
      ['transport', 'cap'],
    ),
    tcpDropped: counter(
      'tcp_connections_dropped_total',
      'TCP connections dropped at once because the process kept its last open files for its own connections',
    ),
    // --- LISTEN round trip, reader resets, frame sizes, ids ---------------------------------------
    listenProbes: counter(
      'listen_probes_total',
      'LISTEN round trips: a NOTIFY sent on another connection came back (ok), did not in time (timeout, the listener is then down), or could not be sent (unsent)',
      ['outcome'],
    ),
    listenRoundTripSeconds: gauge(
      'listen_round_trip_seconds',
      'Duration of the last successful LISTEN round trip',
    ),
    readerResets: counter(
      'bus_reader_resets_total',
      'Databases read again from the start: bus_bus sequence went backwards (sequence) or the database was re-created (database)',
      ['reason'],
    ),
    readersFailing: gauge(
      'bus_readers_failing',
      'Databases whose bus_bus cannot be read or delivered right now',
    ),
    unrepresentableIds: counter(
      'bus_ids_unrepresentable_total',
      'Reads that met a bus_bus.id above 2^53 - 1, which JSON clients cannot represent (the database is marked failing)',
    ),
    oversizedRows: counter(
      'bus_oversized_rows_total',
      'bus_bus rows larger than maxFrameBytes: sent alone in a frame of their own (alone), or larger than maxRowBytes and skipped (skipped)',
      ['outcome'],
    ),
    framesSplit: counter(
      'bus_deliveries_split_total',
      'Deliveries to a group of subscribers split into several frames to stay under maxFrameBytes',
    ),
    restartRows: counter(
      'bus_rows_committed_while_down_total',
      'Rows that were watched as late-commit holes when the sidecar stopped and had committed by its next start',
    ),
    sessionHandovers: counter(
      'session_handovers_total',
      'Handshakes that handed the browser the new id of a session Odoo rotated in answer to the sidecar (19)',
    ),

    // --- Hostile input ---------------------------------------------------------------------------
    errorsCaught: counter(
      'errors_caught_total',
      'Unexpected errors caught where a listener, timer or background task meets the event loop; the process went on (each is logged)',
      ['site'],
    ),
    lastResortErrors: counter(
      'last_resort_errors_total',
      'Errors that reached the process-wide handlers (a rejected promise nobody handled); should stay 0',
      ['kind'],
    ),
    httpRefused: counter(
      'http_refused_total',
      'Requests on the bus paths answered by the sidecar, never reaching Odoo: not a bus route (404), a body over the cap (413), an answer over the cap (502)',
      ['reason'],
    ),
    logSuppressed: counter(
      'log_lines_suppressed_total',
      "Log lines left out because one client repeated one event; the event's own metric still counts each",
      ['event'],
    ),

    // --- Readiness: what delivery needs, as `/readyz` sees it (`ready`: the operator's view) -----
    readCheckUp: gauge(
      'read_check_up',
      '1 while the readiness check reads bus_bus in this served database (or the notify database)',
      ['database'],
    ),
    odooUp: gauge(
      'odoo_up',
      "1 while Odoo answers the sidecar's checks (version_info or the addon)",
    ),
    addonUp: gauge(
      'addon_up',
      "1 while the bus_sidecar addon's info route answers (stays 0 without a secret)",
    ),

    // --- The operator's view (build, readiness, hub, traffic, latency, pools) -----------------
    ...operatorMetrics(registry, PREFIX, written),
  };
  for (const code of [
    '1000',
    '1001',
    '1008',
    '1011',
    '1012',
    '1013',
    '1014',
    '4001',
    '4002',
    '4003',
  ]) {
    metrics.closes.labels(code).inc(0);
  }
  for (const outcome of ['ok', 'error']) metrics.reads.labels(outcome).inc(0);
  for (const queue of ['calls', 'forwarding'])
    for (const reason of ['full', 'clientFull', 'deadline', 'abandoned'])
      metrics.odooQueueRefused.labels(queue, reason).inc(0);
  for (const transport of ['websocket', 'longpolling'])
    for (const cap of ['total', 'address']) {
      metrics.connectionsRefused.labels(transport, cap).inc(0);
      metrics.subscriptionsRefused.labels(transport, cap).inc(0);
    }
  for (const outcome of ['ok', 'timeout', 'unsent']) metrics.listenProbes.labels(outcome).inc(0);
  for (const reason of ['sequence', 'database']) metrics.readerResets.labels(reason).inc(0);
  for (const outcome of ['alone', 'skipped']) metrics.oversizedRows.labels(outcome).inc(0);
  for (const outcome of REVOCATION_OUTCOMES) metrics.revocationNotifies.labels(outcome).inc(0);
  for (const kind of ['immediate', 'deferred', 'merged', 'follow_up'])
    metrics.revocationRechecks.labels(kind).inc(0);
  for (const kind of ['unhandledRejection', 'uncaughtException'])
    metrics.lastResortErrors.labels(kind).inc(0);
  for (const outcome of ['immediate', 'notified', 'timeout', 'revoked', 'aborted', 'error'])
    metrics.polls.labels(outcome).inc(0);
  return metrics;
}
