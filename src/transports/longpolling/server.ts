/**
 * `/longpolling/poll` of Odoo 12.0-15.0, served from the shared reader instead of a query per poll,
 * and Odoo 15.0's `/longpolling/health`. A poll is a call (`pollCall.ts`: read, admitted, asked of
 * Odoo, what is deliverable now) and then one held poll (`heldPoll.ts`: answered at once, or held
 * until rows arrive, the hold time passes, its session is revoked or the browser goes away).
 * This server routes, and owns what outlives one poll: the sessions' memory, the held polls, the
 * stop.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../observability/logger.js';
import type { Revocation } from '../../odoo/revocation.js';
import type { TransportDependencies } from '../dependencies.js';
import { type Forwarding, forward, forwardingOf } from '../forward.js';
import { HeldPoll, type HeldPollContext } from './heldPoll.js';
import { type PollCall, PollCaller } from './pollCall.js';
import { presenceRule } from './presence.js';
import { presenceItems, wantsPresenceItems } from './presenceItems.js';
import { ReplyExchange, sendError } from './replies.js';
import { PollSessions } from './sessions.js';

export const POLL_PATH = '/longpolling/poll';
export const HEALTH_PATH = '/longpolling/health';

const HEALTH_BODY = Buffer.from('{"status": "pass"}', 'utf8');
const SWEEP_INTERVAL_MS = 10_000;

export type LongPollingOptions = TransportDependencies;

export class LongPollingServer {
  private readonly held = new Set<HeldPoll>();
  private readonly sessions: PollSessions;
  private readonly caller: PollCaller;
  private readonly heldContext: HeldPollContext;
  private readonly log: Logger;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly forwarding: Forwarding;
  private closing = false;

  constructor(private readonly options: LongPollingOptions) {
    const { config } = options;
    this.log = options.logger.child({ component: 'longpolling' });
    this.forwarding = forwardingOf(options);
    this.sessions = new PollSessions(config.recentRowsSeconds * 1000);
    const rule = presenceRule(config.presenceRefreshSeconds * 1000);
    this.caller = new PollCaller(options, this.sessions, rule, this.log);
    this.heldContext = this.heldPollContext();
    this.sweepTimer = setInterval(() => {
      try {
        this.sessions.sweep(options.clock(), config.lateCommitWindowSeconds * 1000, (db) =>
          options.readers.existingReader(db),
        );
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
    for (const poll of [...this.held]) void poll.end('timeout');
  }

  /** Held polls of revoked sessions, or subscribed to a named partner, are answered `[]` now. */
  revoke(revocation: Revocation): void {
    const { db, sessions, partnerKeys } = revocation;
    for (const hash of sessions) this.sessions.forget(hash);
    let answered = 0;
    for (const held of [...this.held]) {
      const { poll } = held;
      if (poll.db !== db) continue;
      const bySession = poll.session !== undefined && sessions.has(poll.session.hash);
      const byPartner = [...partnerKeys].some((key) => poll.keys.has(key));
      if (bySession || byPartner) {
        void held.end('revoked');
        answered++;
      }
    }
    if (answered > 0) this.log.info({ db, answered }, 'held polls of revoked sessions answered');
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const { metrics } = this.options;
    const call = await this.caller.call(request, reply, this.closing);
    switch (call.kind) {
      case 'forward':
        metrics.polls.labels('forwarded').inc();
        return forward(request, reply, this.forwarding);
      case 'aborted':
        metrics.polls.labels('aborted').inc();
        return reply;
      case 'refused':
        metrics.polls.labels('error').inc();
        return sendError(reply, call.id, call.error, call.version, call.setCookie);
      case 'accepted':
        await this.answer(call, reply);
        return reply;
    }
  }

  /** Answers what is deliverable now, or holds the poll until there is. */
  private answer(
    call: Extract<PollCall, { kind: 'accepted' }>,
    reply: FastifyReply,
  ): Promise<void> {
    const { poll, deliverable } = call;
    const exchange = new ReplyExchange(reply, poll.id, poll.version, poll.setCookie);
    const held = new HeldPoll(poll, exchange, this.heldContext);
    const immediate = () => this.options.metrics.polls.labels('immediate').inc();
    switch (deliverable.kind) {
      case 'odoo':
        immediate();
        return held.answerOdoo(deliverable.payload);
      case 'catchUp':
        immediate();
        return held.answerCatchUp(deliverable.odoo, deliverable.rows);
      case 'rows':
        if (deliverable.rows.length > 0) {
          immediate();
          return held.answerRows(deliverable.rows, 'immediate');
        }
    }
    // Nothing yet: wait for the reader, unless the sidecar is stopping (its server waits for
    // every request in flight).
    if (this.closing) return held.end('timeout');
    return held.hold(call.holdMs);
  }

  private heldPollContext(): HeldPollContext {
    const { metrics, hub, caught, odoo, clock } = this.options;
    const set = this.held;
    return {
      metrics,
      hub,
      caught,
      held: {
        add: (poll) => {
          set.add(poll);
          metrics.pollsHeld.set(set.size);
        },
        delete: (poll) => {
          if (set.delete(poll)) metrics.pollsHeld.set(set.size);
        },
      },
      wantsPresenceItems: (poll) => wantsPresenceItems(poll) && !this.closing,
      presenceItems: (poll) => presenceItems({ odoo, clock, log: this.log }, poll),
    };
  }
}
