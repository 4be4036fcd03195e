/**
 * `/longpolling/poll` of Odoo 12.0-15.0, served from the shared reader instead of a query per poll.
 *
 * A poll, start to end:
 * 1. The request is read as Odoo's `JsonRequest` reads it. What is not a JSON-RPC call (another
 *    content type, a body that is not a JSON object) goes to Odoo, whose answer is immediate.
 * 2. Odoo decides: the addon's `/bus_sidecar/poll` is called with the browser's cookies and
 *    forwarded headers. It runs every installed module's `BusController._poll` and answers the
 *    channels it grants and the catch-up of `last` in this version's shape; it also writes the
 *    poll's presence, when the presence rule passes `bus_inactivity` on (`presence.ts`). Odoo's
 *    errors (a non-string channel, ...) are handed to the browser as Odoo wrote them.
 * 3. An answer at once when there is something to deliver: Odoo's catch-up, plus the rows the
 *    reader read on those channels since the snapshot taken before calling Odoo (or since the
 *    browser's previous poll, `sessions.ts`), or when the poll is a `peek`.
 * 4. Otherwise the poll waits in the hub for the first batch of rows on its channels (the reader's
 *    one query per burst serves every poll), and is answered `[]` after the hold time, at once when
 *    its session is revoked, and forgotten when the browser goes away.
 *
 * 12.0 only: a poll carrying `bus_presence_partner_ids` gets those partners' im_status items
 * (`id: -1`) whenever Odoo's own poll would have read again after waiting: the addon is asked again
 * with `force_status`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ReaderView } from '../../bus/readerView.js';
import type { BusRow } from '../../bus/types.js';
import type { EncodedBatch } from '../../hub/encodedBatch.js';
import { MAX_MESSAGE_DEPTH, nestsDeeperThan } from '../../json/depth.js';
import { member, parseJson } from '../../json/rawJson.js';
import { guarded } from '../../observability/caught.js';
import type { Logger } from '../../observability/logger.js';
import { POLL_ROUTE } from '../../odoo/addonContract.js';
import type { BrowserContext, RpcOutcome } from '../../odoo/client.js';
import { sessionIdFromCookie } from '../../odoo/cookies.js';
import { generationOf } from '../../odoo/generations.js';
import { type PollAnswer, PollAnswerError, readPollAnswer } from '../../odoo/pollAnswer.js';
import type { Revocation } from '../../odoo/revocation.js';
import { sessionHash } from '../../odoo/sessionHash.js';
import { browserContext, clientIdentity } from '../clientIdentity.js';
import type { TransportDependencies } from '../dependencies.js';
import { type Forwarding, forward, forwardingOf } from '../forward.js';
import { admitPoll } from './admission.js';
import {
  batchPayload,
  errorEnvelope,
  idJson,
  itemJson,
  resultEnvelope,
  unavailableError,
} from './envelope.js';
import { deliverable, LongPoll } from './longPoll.js';
import {
  decidePresence,
  inactivityOf,
  type PresenceDecision,
  type PresenceRule,
  presenceRule,
  rememberPresence,
} from './presence.js';
import { type PollSession, PollSessions } from './sessions.js';

export const POLL_PATH = '/longpolling/poll';
export const HEALTH_PATH = '/longpolling/health';

const HEALTH_BODY = Buffer.from('{"status": "pass"}', 'utf8');
const JSON_TYPES = new Set(['application/json', 'application/json-rpc']);
const SWEEP_INTERVAL_MS = 10_000;

export type LongPollingOptions = TransportDependencies;

/** Everything one poll needs from the moment Odoo answered it. */
interface Poll {
  reply: FastifyReply;
  id: string;
  /** Odoo's major version (the addon's answer says it). */
  version: number;
  setCookie: string[];
  db: string;
  reader: ReaderView;
  last: number;
  keys: ReadonlySet<string>;
  session: PollSession | undefined;
  options: Record<string, unknown> | undefined;
  browser: BrowserContext;
  /** The params sent to the addon, for 12.0's second read. */
  sent: Record<string, unknown>;
  subscriber: LongPoll | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Settles the request handler once the poll is answered or the browser went away. */
  settle: (() => void) | undefined;
  done: boolean;
}

export class LongPollingServer {
  private readonly held = new Set<Poll>();
  private readonly sessions: PollSessions;
  private readonly rule: PresenceRule;
  private readonly log: Logger;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly forwarding: Forwarding;
  private closing = false;
  private addonMissingLogged = false;

  constructor(private readonly options: LongPollingOptions) {
    const { config } = options;
    this.log = options.logger.child({ component: 'longpolling' });
    this.forwarding = forwardingOf(options);
    this.sessions = new PollSessions(config.recentRowsSeconds * 1000);
    this.rule = presenceRule(config.presenceRefreshSeconds * 1000);
    this.sweepTimer = setInterval(() => {
      try {
        this.sessions.sweep(options.clock(), config.lateCommitWindowSeconds * 1000);
      } catch (error) {
        options.caught('longpoll-sweep', error);
      }
    }, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** Routes, registered before the forwarding of the other `/longpolling/*` paths. */
  register(app: FastifyInstance): void {
    // Odoo 15.0's `/longpolling/health`, the evented server's liveness answer.
    app.get(HEALTH_PATH, async (_request, reply) =>
      reply
        .header('content-type', 'application/json')
        .header('cache-control', 'no-store')
        .send(HEALTH_BODY),
    );
    void app.register((scope, _options, done) => {
      // The body is read as Odoo reads it, whatever its content type says.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, next) =>
        next(null, body),
      );
      scope.post(POLL_PATH, (request, reply) => this.handle(request, reply));
      done();
    });
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** Held polls and remembered sessions, for the metrics and the status page. */
  get heldPolls(): Iterable<{ readonly db: string }> {
    return this.held;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Answers every held poll `[]` (the browsers poll again at once) and refuses new ones. */
  shutdown(): void {
    this.closing = true;
    clearInterval(this.sweepTimer);
    for (const poll of [...this.held]) this.answerRows(poll, [], 'timeout');
  }

  /** Held polls of revoked sessions, or subscribed to a named partner, are answered `[]` now. */
  revoke(revocation: Revocation): void {
    const { db, sessions, partnerKeys } = revocation;
    for (const hash of sessions) this.sessions.forget(hash);
    let answered = 0;
    for (const poll of [...this.held]) {
      if (poll.db !== db) continue;
      const bySession = poll.session !== undefined && sessions.has(poll.session.hash);
      const byPartner = [...partnerKeys].some((key) => poll.keys.has(key));
      if (bySession || byPartner) {
        this.answerRows(poll, [], 'revoked');
        answered++;
      }
    }
    if (answered > 0) this.log.info({ db, answered }, 'held polls of revoked sessions answered');
  }

  // --- One poll ---------------------------------------------------------------------------------

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const { metrics, odoo, clock } = this.options;
    const major = this.options.odooMajor();
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const envelope =
      generationOf(major)?.transport === 'websocket' ? undefined : readCall(request, body);
    if (envelope === undefined) {
      // Odoo 16+ has no long polling, and malformed calls fail at once in Odoo: its own answer.
      metrics.polls.labels('forwarded').inc();
      return forward(request, reply, this.forwarding);
    }
    const { id, params } = envelope;
    if (this.closing) {
      metrics.polls.labels('error').inc();
      return this.sendError(reply, id, unavailableError('The bus is restarting.'), major);
    }
    const browser = this.browserContext(request);
    const refused = admitPoll(this.options, reply, browser.address, params.channels);
    if (refused !== undefined) {
      metrics.polls.labels('error').inc();
      return this.sendError(reply, id, unavailableError(refused), major);
    }
    const now = clock();
    const sid = sessionIdFromCookie(browser.cookie);
    let session = sid === undefined ? undefined : this.sessions.get(sessionHash(sid), now);
    const options = isObject(params.options) ? params.options : undefined;
    const inactivity = inactivityOf(options);
    const presence =
      inactivity === undefined
        ? undefined
        : decidePresence(this.rule, session?.presence, now, inactivity);
    if (presence !== undefined)
      metrics.presenceUpdates.labels(presence.forward ? 'passed' : 'left_out').inc();
    const sent: Record<string, unknown> = {};
    for (const name of ['channels', 'last', 'options'] as const) {
      if (name in params) sent[name] = params[name];
    }
    if (presence?.forward === false && options !== undefined) {
      const { bus_inactivity: _left, ...rest } = options;
      sent.options = rest;
    }

    // A browser that goes away before Odoo is asked (the web client aborts its poll whenever its
    // channels change) leaves the queue of calls to Odoo.
    let aborted = false;
    const gone = new AbortController();
    reply.raw.on('close', () => {
      aborted = !reply.raw.writableEnded;
      if (aborted) gone.abort();
    });
    const readCounts = this.options.readers.readCounts();
    const outcome = await odoo.rpc(POLL_ROUTE, sent, browser, gone.signal, request.id);
    if (aborted) {
      metrics.polls.labels('aborted').inc();
      return reply;
    }
    const reject = this.rejection(outcome, request.id);
    if (reject !== undefined) {
      metrics.polls.labels('error').inc();
      // Odoo's own refusals carry its session cookie too.
      const cookies = 'setCookie' in outcome ? outcome.setCookie : [];
      return this.sendError(reply, id, reject, major, cookies);
    }
    const result = outcome as Extract<RpcOutcome, { kind: 'result' }>;
    let answer: PollAnswer;
    try {
      answer = readPollAnswer(result.text, result.result, result.cut);
    } catch (error) {
      this.log.warn(
        { err: error instanceof PollAnswerError ? error.message : error, requestId: request.id },
        'unreadable poll answer from the bus_sidecar addon',
      );
      metrics.polls.labels('error').inc();
      return this.sendError(
        reply,
        id,
        unavailableError('Odoo answered the poll unreadably.'),
        major,
      );
    }
    // Odoo created or rotated the session: the browser gets its cookie, the memory its name.
    if (result.newSessionId !== undefined && result.newSessionId !== sid) {
      session = this.sessions.get(sessionHash(result.newSessionId), now);
    }
    if (presence?.forward && session !== undefined && inactivity !== undefined) {
      session.presence = rememberPresence(session.presence, now, inactivity);
    }
    const version = answer.version ?? major ?? 15;
    const finish = (status: 'error', error: string) => {
      metrics.polls.labels(status).inc();
      return this.sendError(reply, id, error, version, result.setCookie);
    };
    if (!this.options.servesDatabase(answer.db)) {
      this.log.warn(
        { db: answer.db, requestId: request.id },
        'poll refused: its database is not served by this sidecar',
      );
      return finish('error', unavailableError('This database is not served by the bus sidecar.'));
    }
    const reader = this.options.readers.reader(answer.db);
    try {
      await reader.ready();
    } catch (error) {
      this.log.warn(
        { err: error, db: answer.db, requestId: request.id },
        'cannot read bus_bus of this database yet',
      );
      return finish('error', unavailableError('The bus of this database cannot be read yet.'));
    }
    if (aborted) {
      metrics.polls.labels('aborted').inc();
      return reply;
    }

    const last = numericLast(params.last);
    if (session !== undefined && session.db !== answer.db) {
      session.db = answer.db;
      session.seq = undefined;
      session.expected.clear();
    }
    const poll: Poll = {
      reply,
      id,
      version,
      setCookie: result.setCookie,
      db: answer.db,
      reader,
      last: last ?? 0,
      keys: new Set(answer.keys),
      session,
      options,
      browser,
      sent,
      subscriber: undefined,
      timer: undefined,
      settle: undefined,
      done: false,
    };
    this.expect(poll, answer.notifications, now);
    if (answer.partial) {
      // Odoo's catch-up was larger than one answer may be: its first rows are answered alone (the
      // rows read since are newer), and the browser's next poll, from the last of them, goes on.
      metrics.catchUpParts.labels('longpolling').inc();
    }
    if (options?.peek || last === undefined || answer.partial) {
      // A peek answers at once (`{"notifications", "channels"}`); so does a `last` the sidecar
      // cannot compare ids with, which Odoo alone can judge.
      const items = answer.notifications.map((n) => n.text).join(', ');
      const payload = options?.peek
        ? `{"notifications": [${items}], "channels": ${answer.channelsText}}`
        : `[${items}]`;
      metrics.polls.labels('immediate').inc();
      // Not an answer the next poll takes over from: it carries none of the rows read since.
      return this.send(poll, Buffer.from(payload, 'utf8'), false);
    }

    // Rows read while Odoo was asked (or since this browser's previous poll) on these channels.
    const continuous = session?.seq !== undefined && poll.last > 0;
    const since = continuous ? (session?.seq as number) : (readCounts.get(answer.db) ?? 0);
    const odooIds = new Set(answer.notifications.map((n) => n.id));
    const gap = reader
      .readSince(since, 0, poll.keys)
      .filter((row) => !odooIds.has(row.id) && deliverable(row, poll.last, session));
    // A browser this sidecar has no memory of (first poll here, or a restart): rows below its
    // `last` that committed late and were read since its memory would have lapsed, which Odoo's
    // catch-up (above `last`) leaves out.
    if (!continuous && poll.last > 0) {
      const inGap = new Set(gap.map((row) => row.id));
      const sessionTtlMs = this.options.config.recentRowsSeconds * 1000;
      for (const row of reader.missedBelow(poll.last, poll.keys, sessionTtlMs))
        if (!odooIds.has(row.id) && !inGap.has(row.id) && !session?.expected.has(row.id))
          gap.push(row);
      gap.sort((a, b) => a.id - b.id);
    }
    const odooRows = answer.notifications.filter((n) => n.id >= 0);
    if (odooRows.length > 0 || gap.length > 0) {
      metrics.polls.labels('immediate').inc();
      if (odooRows.length > 0) return this.answerItems(poll, answer.notifications, gap);
      return this.answerRows(poll, gap, 'immediate');
    }

    // Nothing yet: wait for the reader, unless the sidecar is stopping (its server waits for
    // every request in flight).
    if (this.closing) return this.answerRows(poll, [], 'timeout');
    const holdMs = this.holdMs(presence, now);
    return new Promise<FastifyReply>((resolve) => {
      poll.settle = () => resolve(reply);
      poll.subscriber = new LongPoll(answer.db, poll.last, session, (batch) =>
        this.answerBatch(poll, batch),
      );
      reply.raw.on(
        'close',
        guarded(this.options.caught, 'longpoll', () => {
          if (!poll.done) {
            // The browser went away (or changed its channels and polls again): nothing is kept.
            metrics.polls.labels('aborted').inc();
            poll.done = true;
            resolve(reply);
            this.release(poll);
          }
        }),
      );
      poll.timer = setTimeout(
        guarded(this.options.caught, 'longpoll', () => this.answerRows(poll, [], 'timeout')),
        holdMs,
      );
      this.held.add(poll);
      metrics.pollsHeld.set(this.held.size);
      this.options.hub.subscribe(poll.subscriber, poll.keys);
    });
  }

  private holdMs(presence: PresenceDecision | undefined, now: number): number {
    const holdMs = this.options.config.longpollingTimeoutSeconds * 1000;
    if (presence === undefined || presence.forward) return holdMs;
    // The presence was left out: the next poll, which passes it on, must start in time.
    return Math.max(0, Math.min(holdMs, presence.holdUntil - now));
  }

  // --- Answers ----------------------------------------------------------------------------------

  /** Odoo's catch-up, merged with rows the reader read since (by id, Odoo's text first). */
  private answerItems(poll: Poll, odoo: PollAnswer['notifications'], rows: BusRow[]): unknown {
    const withChannel = generationOf(poll.version).pollItem === 'id-channel-message';
    const items = new Map<number, string>();
    const extra: string[] = [];
    for (const n of odoo) {
      if (n.id < 0) extra.push(n.text);
      else items.set(n.id, n.text);
    }
    for (const row of rows) if (!items.has(row.id)) items.set(row.id, itemJson(row, withChannel));
    const sorted = [...items].sort(([a], [b]) => a - b).map(([, text]) => text);
    return this.send(poll, Buffer.from(`[${[...sorted, ...extra].join(', ')}]`, 'utf8'));
  }

  private answerBatch(poll: Poll, batch: EncodedBatch): void {
    this.options.metrics.polls.labels('notified').inc();
    this.options.metrics.longPollDelivered.inc(batch.rows.length);
    if (this.needsPresenceItems(poll)) {
      void this.withPresenceItems(poll, [...batch.rows]);
      return;
    }
    this.send(
      poll,
      batchPayload(batch, generationOf(poll.version).pollItem === 'id-channel-message'),
    );
  }

  /** Answers with `rows` (possibly none): the hold ended, or rows were found before holding. */
  private answerRows(
    poll: Poll,
    rows: BusRow[],
    outcome: 'timeout' | 'revoked' | 'immediate',
  ): unknown {
    if (poll.done) return poll.reply;
    poll.subscriber?.close();
    if (outcome !== 'immediate') this.options.metrics.polls.labels(outcome).inc();
    if (outcome !== 'revoked' && this.needsPresenceItems(poll))
      return this.withPresenceItems(poll, rows);
    const withChannel = generationOf(poll.version).pollItem === 'id-channel-message';
    return this.send(poll, `[${rows.map((row) => itemJson(row, withChannel)).join(',')}]`);
  }

  /**
   * 12.0: Odoo's poll reads again with `force_status` after waiting, which adds the im_status of
   * `options.bus_presence_partner_ids`; so does the sidecar, merging what it holds.
   */
  private needsPresenceItems(poll: Poll): boolean {
    const partners = poll.options?.bus_presence_partner_ids;
    const { pollPresenceItems } = generationOf(poll.version);
    return pollPresenceItems && Array.isArray(partners) && partners.length > 0 && !this.closing;
  }

  /** Started from timers and deliveries: ends in an answer whatever happens. */
  private withPresenceItems(poll: Poll, rows: BusRow[]): Promise<unknown> {
    return this.presenceItemsAnswer(poll, rows).catch((error: unknown) => {
      this.options.caught('longpoll', error);
      return this.answerItems(poll, [], rows);
    });
  }

  private async presenceItemsAnswer(poll: Poll, rows: BusRow[]): Promise<unknown> {
    this.release(poll);
    const { bus_inactivity: _presence, ...options } = poll.options ?? {};
    const outcome = await this.options.odoo.rpc(
      POLL_ROUTE,
      { ...poll.sent, options, force_status: true },
      poll.browser,
      undefined,
      poll.reply.request.id,
    );
    // An answer cut short (`maxCallAnswerBytes`) gives no im_status items: the rows go alone.
    if (outcome.kind === 'result' && outcome.cut === undefined) {
      try {
        const answer = readPollAnswer(outcome.text, outcome.result);
        this.expect(poll, answer.notifications, this.options.clock());
        return this.answerItems(poll, answer.notifications, rows);
      } catch (error) {
        this.log.debug({ err: error }, 'no im_status items: unreadable answer');
      }
    }
    return this.answerItems(poll, [], rows);
  }

  /** Writes the answer of a poll and forgets it. */
  private send(poll: Poll, result: Buffer | string, advance = true): FastifyReply {
    const reply = poll.reply;
    if (poll.done) return reply;
    this.release(poll);
    poll.done = true;
    const session = poll.session;
    if (advance && session !== undefined) {
      // Every row read so far was offered to this poll; the next poll takes over from here.
      session.seq = poll.reader.readCount;
      session.db = poll.db;
    }
    if (!reply.raw.destroyed) {
      this.headers(reply, poll.version, poll.setCookie);
      reply.send(resultEnvelope(poll.id, result));
    }
    poll.settle?.();
    return reply;
  }

  /** Catch-up ids the reader has not read yet: its copy must not reach this browser again. */
  private expect(poll: Poll, notifications: PollAnswer['notifications'], now: number): void {
    const session = poll.session;
    if (session === undefined) return;
    for (const n of notifications) {
      if (n.id > poll.reader.position || poll.reader.hasHole(n.id)) session.expected.set(n.id, now);
    }
  }

  private release(poll: Poll): void {
    clearTimeout(poll.timer);
    poll.timer = undefined;
    if (poll.subscriber !== undefined) {
      poll.subscriber.close();
      this.options.hub.unsubscribe(poll.subscriber);
    }
    if (this.held.delete(poll)) this.options.metrics.pollsHeld.set(this.held.size);
  }

  private sendError(
    reply: FastifyReply,
    id: string,
    error: string,
    version: number | undefined,
    setCookie: string[] = [],
  ): FastifyReply {
    if (reply.raw.destroyed) return reply;
    this.headers(reply, version, setCookie);
    return reply.send(errorEnvelope(id, error));
  }

  private headers(reply: FastifyReply, version: number | undefined, setCookie: string[]): void {
    reply.code(200).header('content-type', 'application/json');
    // `cors="*"` on the poll route (Odoo's Response adds both to every answer); a version not
    // known yet is taken for one that has it.
    if (generationOf(version)?.pollCors ?? true) {
      reply.header('access-control-allow-origin', '*');
      reply.header('access-control-allow-methods', 'POST');
    }
    if (setCookie.length > 0) reply.header('set-cookie', setCookie);
  }

  /** The JSON-RPC error to answer for an outcome that is not a result, or undefined. */
  private rejection(outcome: RpcOutcome, requestId: string): string | undefined {
    switch (outcome.kind) {
      case 'result':
        return undefined;
      case 'rpcError':
      case 'sessionExpired': {
        // Odoo refused the poll (a non-string channel, a missing `last`, ...): its own error.
        try {
          const error = member(parseJson(outcome.text), 'error');
          if (error !== undefined) return outcome.text.slice(error.start, error.end);
        } catch {}
        return unavailableError('Odoo refused the poll.');
      }
      case 'notFound':
        if (!this.addonMissingLogged) {
          this.addonMissingLogged = true;
          this.log.error(
            { route: POLL_ROUTE },
            'Odoo has no /bus_sidecar/poll route: load the bus_sidecar addon server-wide (12.0-15.0), or the request names no database',
          );
        }
        return unavailableError('The bus_sidecar addon does not answer.');
      case 'unavailable':
        this.log.warn(
          { reason: outcome.reason, detail: outcome.detail, requestId },
          'Odoo could not answer a poll',
        );
        return unavailableError(
          outcome.reason === 'queueFull'
            ? 'Too many polls wait for Odoo; try again later.'
            : 'Odoo is unavailable; try again later.',
        );
    }
  }

  private browserContext(request: FastifyRequest): BrowserContext {
    return browserContext(request.raw, clientIdentity(request.raw, this.options.proxyTrust));
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The JSON-RPC call in a request, read as Odoo's `JsonRequest` does (`params` a dict), or
 * undefined when Odoo would not treat it as one.
 */
function readCall(
  request: FastifyRequest,
  body: Buffer,
): { id: string; params: Record<string, unknown> } | undefined {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!JSON_TYPES.has(type)) return undefined;
  const text = body.toString('utf8');
  // Nothing this deep is a poll; Odoo gives such a body its own answer.
  if (nestsDeeperThan(text, MAX_MESSAGE_DEPTH)) return undefined;
  let call: unknown;
  try {
    call = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(call)) return undefined;
  const params = call.params ?? {};
  if (!isObject(params)) return undefined;
  return { id: idJson(call.id), params };
}

/** `last` when it is a number Odoo compares ids with (`id > last`), else undefined. */
function numericLast(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return undefined;
}
