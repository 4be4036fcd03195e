/**
 * One `/longpolling/poll` call, from the request to what can be answered at once:
 *
 * 1. The request is read as Odoo reads it (`pollRequest.ts`); what is not a poll goes to Odoo.
 * 2. It takes its places among the connections and channel lists held (`admission.ts`).
 * 3. Odoo decides: the addon's `/bus_sidecar/poll` is called with the browser's cookies and
 *    forwarded headers. It runs every installed module's `BusController._poll` and answers the
 *    channels it grants and the catch-up of `last` in this version's shape; it also writes the
 *    poll's presence, when the presence rule passes `bus_inactivity` on (`presence.ts`). Odoo's
 *    errors (a non-string channel, ...) are handed to the browser as Odoo wrote them.
 * 4. What is deliverable now: Odoo's catch-up, plus the rows the reader read on those channels
 *    since the count taken before calling Odoo (or since the browser's previous poll,
 *    `sessions.ts`), by the rules of `catchUp.ts`; nothing means the poll is held.
 */

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReaderView } from '../../bus/readerView.js';
import type { BusRow } from '../../bus/types.js';
import type { Logger } from '../../observability/logger.js';
import { POLL_ROUTE } from '../../odoo/addonContract.js';
import type { BrowserContext, RpcOutcome } from '../../odoo/client.js';
import { sessionIdFromCookie } from '../../odoo/cookies.js';
import { generationOf } from '../../odoo/generations.js';
import {
  type PollAnswer,
  PollAnswerError,
  type PollNotification,
  readPollAnswer,
} from '../../odoo/pollAnswer.js';
import { sessionHash } from '../../odoo/sessionHash.js';
import { browserContext, clientIdentity } from '../clientIdentity.js';
import type { TransportDependencies } from '../dependencies.js';
import { admitPoll } from './admission.js';
import { type CatchUpPoll, catchUp, passedOn } from './catchUp.js';
import { odooPayload, unavailableError } from './envelope.js';
import { isObject, numericLast, type PollRequest, readCall, sentParams } from './pollRequest.js';
import {
  decidePresence,
  inactivityOf,
  type PresenceDecision,
  type PresenceRule,
  rememberPresence,
} from './presence.js';
import { rejection } from './rejection.js';
import { followTo, type PollSession, type PollSessions } from './sessions.js';

/** A poll Odoo answered, in a database this sidecar reads: everything needed to answer it. */
export interface AcceptedPoll extends CatchUpPoll {
  readonly requestId: string;
  /** The call's `id` as Python re-emits it. */
  readonly id: string;
  /** Odoo's major version (the addon's answer says it). */
  readonly version: number;
  /** Odoo's session cookie, passed on with the answer. */
  readonly setCookie: string[];
  readonly db: string;
  readonly reader: ReaderView;
  readonly options: Record<string, unknown> | undefined;
  readonly browser: BrowserContext;
  /** The params sent to the addon, for 12.0's second read. */
  readonly sent: Record<string, unknown>;
}

/** What an accepted poll can be answered with at once. */
export type Deliverable =
  /** Odoo's answer as it is; not one the next poll takes over from (it has no rows read since). */
  | { readonly kind: 'odoo'; readonly payload: string }
  /** Odoo's catch-up, merged with the rows read since. */
  | { readonly kind: 'catchUp'; readonly odoo: PollNotification[]; readonly rows: BusRow[] }
  /** Rows read since alone; none: the poll waits for the reader. */
  | { readonly kind: 'rows'; readonly rows: BusRow[] };

export type PollCall =
  /** Not a poll Odoo 12-15 would run (or Odoo 16+): Odoo answers it. */
  | { readonly kind: 'forward' }
  /** The browser went away before it could be answered. */
  | { readonly kind: 'aborted' }
  | {
      readonly kind: 'refused';
      readonly id: string;
      /** The JSON-RPC error, as text. */
      readonly error: string;
      readonly version: number | undefined;
      readonly setCookie: string[];
    }
  | {
      readonly kind: 'accepted';
      readonly poll: AcceptedPoll;
      readonly deliverable: Deliverable;
      /** How long it may be held. */
      readonly holdMs: number;
    };

const FORWARD: PollCall = { kind: 'forward' };
const ABORTED: PollCall = { kind: 'aborted' };

/** What the call knows before asking Odoo. */
interface Asking {
  readonly request: PollRequest;
  readonly browser: BrowserContext;
  readonly major: number | undefined;
  readonly now: number;
  readonly sid: string | undefined;
  /** The browser's `last`, when it is a number ids compare with. */
  readonly last: number | undefined;
  readonly session: PollSession | undefined;
  readonly options: Record<string, unknown> | undefined;
  readonly inactivity: number | undefined;
  readonly presence: PresenceDecision | undefined;
  readonly sent: Record<string, unknown>;
}

export class PollCaller {
  private readonly noAddon = { logged: false };

  constructor(
    private readonly deps: TransportDependencies,
    private readonly sessions: PollSessions,
    private readonly rule: PresenceRule,
    private readonly log: Logger,
  ) {}

  async call(request: FastifyRequest, reply: FastifyReply, closing: boolean): Promise<PollCall> {
    const major = this.deps.odooMajor();
    // Odoo 16+ has no long polling, and malformed calls fail at once in Odoo: its own answer.
    const call = generationOf(major)?.transport === 'websocket' ? undefined : readCall(request);
    if (call === undefined) return FORWARD;
    if (closing) return refused(call.id, unavailableError('The bus is restarting.'), major);
    const browser = browserContext(request.raw, clientIdentity(request.raw, this.deps.proxyTrust));
    const refusal = admitPoll(this.deps, reply, browser.address, call.params.channels);
    if (refusal !== undefined) return refused(call.id, unavailableError(refusal), major);
    const asking = this.prepare(call, browser, major);
    // A browser that goes away before Odoo is asked (the web client aborts its poll whenever its
    // channels change) leaves the queue of calls to Odoo.
    const gone = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableEnded) gone.abort();
    });
    const readCounts = this.deps.readers.readCounts();
    const outcome = await this.deps.odoo.rpc(
      POLL_ROUTE,
      asking.sent,
      browser,
      gone.signal,
      request.id,
    );
    if (gone.signal.aborted) return ABORTED;
    const accepted = await this.accept(asking, outcome, request.id, gone.signal);
    if (accepted.kind !== 'read') return accepted;
    const { poll, answer } = accepted;
    return {
      kind: 'accepted',
      poll,
      deliverable: this.deliverable(poll, answer, readCounts.get(poll.db) ?? 0, asking),
      holdMs: this.holdMs(asking.presence, asking.now),
    };
  }

  /** The session's memory, the presence decision and the params passed on to the addon. */
  private prepare(
    request: PollRequest,
    browser: BrowserContext,
    major: number | undefined,
  ): Asking {
    const now = this.deps.clock();
    const sid = sessionIdFromCookie(browser.cookie);
    const session = sid === undefined ? undefined : this.sessions.get(sessionHash(sid), now);
    const options = isObject(request.params.options) ? request.params.options : undefined;
    const inactivity = inactivityOf(options);
    const presence =
      inactivity === undefined
        ? undefined
        : decidePresence(this.rule, session?.presence, now, inactivity);
    if (presence !== undefined)
      this.deps.metrics.presenceUpdates.labels(presence.forward ? 'passed' : 'left_out').inc();
    const sent = sentParams(request.params, options, presence?.forward !== false);
    const last = numericLast(request.params.last);
    return {
      request,
      browser,
      major,
      now,
      sid,
      last,
      session,
      options,
      inactivity,
      presence,
      sent,
    };
  }

  /** Odoo's answer read, its database opened: the poll, or why it is refused. */
  private async accept(
    asking: Asking,
    outcome: RpcOutcome,
    requestId: string,
    gone: AbortSignal,
  ): Promise<PollCall | { kind: 'read'; poll: AcceptedPoll; answer: PollAnswer }> {
    const { id } = asking.request;
    const read = this.readAnswer(asking, outcome, requestId);
    if (read.kind === 'refused') return read;
    const { result, answer } = read;
    const session = this.sessionAfter(asking, result.newSessionId);
    const version = answer.version ?? asking.major ?? 15;
    const db = answer.db;
    const opened = await this.openReader(db, requestId);
    if (typeof opened === 'string')
      return refused(id, unavailableError(opened), version, result.setCookie);
    if (gone.aborted) return ABORTED;
    if (session !== undefined) followTo(session, db);
    const poll: AcceptedPoll = {
      requestId,
      id,
      version,
      setCookie: result.setCookie,
      db,
      reader: opened,
      last: asking.last ?? 0,
      keys: new Set(answer.keys),
      session,
      options: asking.options,
      browser: asking.browser,
      sent: asking.sent,
    };
    return { kind: 'read', poll, answer };
  }

  /** Odoo's result and the addon's answer in it, or the error the browser gets instead. */
  private readAnswer(
    asking: Asking,
    outcome: RpcOutcome,
    requestId: string,
  ):
    | Extract<PollCall, { kind: 'refused' }>
    | { kind: 'read'; result: Extract<RpcOutcome, { kind: 'result' }>; answer: PollAnswer } {
    const { id } = asking.request;
    const reject = rejection(outcome, requestId, this.log, this.noAddon);
    if (reject !== undefined) {
      // Odoo's own refusals carry its session cookie too.
      const cookies = 'setCookie' in outcome ? outcome.setCookie : [];
      return refused(id, reject, asking.major, cookies);
    }
    const result = outcome as Extract<RpcOutcome, { kind: 'result' }>;
    try {
      return {
        kind: 'read',
        result,
        answer: readPollAnswer(result.text, result.result, result.cut),
      };
    } catch (error) {
      this.log.warn(
        { err: error instanceof PollAnswerError ? error.message : error, requestId },
        'unreadable poll answer from the bus_sidecar addon',
      );
      return refused(id, unavailableError('Odoo answered the poll unreadably.'), asking.major);
    }
  }

  /** The reader of the poll's database once it can read, or why the poll is refused. */
  private async openReader(db: string, requestId: string): Promise<ReaderView | string> {
    if (!this.deps.servesDatabase(db)) {
      this.log.warn({ db, requestId }, 'poll refused: its database is not served by this sidecar');
      return 'This database is not served by the bus sidecar.';
    }
    const reader = this.deps.readers.reader(db);
    try {
      await reader.ready();
      return reader;
    } catch (error) {
      this.log.warn({ err: error, db, requestId }, 'cannot read bus_bus of this database yet');
      return 'The bus of this database cannot be read yet.';
    }
  }

  /** The session after Odoo's answer, its presence update remembered. */
  private sessionAfter(asking: Asking, newSessionId: string | undefined): PollSession | undefined {
    let session = asking.session;
    // Odoo created or rotated the session: the browser gets its cookie, the memory its name.
    if (newSessionId !== undefined && newSessionId !== asking.sid) {
      session = this.sessions.get(sessionHash(newSessionId), asking.now);
    }
    const { presence, inactivity, now } = asking;
    if (presence?.forward && session !== undefined && inactivity !== undefined) {
      session.presence = rememberPresence(session.presence, now, inactivity);
    }
    return session;
  }

  private deliverable(
    poll: AcceptedPoll,
    answer: PollAnswer,
    readBefore: number,
    asking: Asking,
  ): Deliverable {
    const peek = asking.options?.peek;
    if (peek || asking.last === undefined || answer.partial) {
      if (answer.partial) {
        // Odoo's catch-up was larger than one answer may be: its first rows are answered alone
        // (the rows read since are newer), and the browser's next poll, from the last of them,
        // goes on.
        this.deps.metrics.catchUpParts.labels('longpolling').inc();
      }
      // A peek answers at once (`{"notifications", "channels"}`); so does a `last` the sidecar
      // cannot compare ids with, which Odoo alone can judge. Odoo's text goes as it is.
      passedOn(poll, answer.notifications, asking.now);
      return { kind: 'odoo', payload: odooPayload(answer, Boolean(peek)) };
    }
    const sessionTtlMs = this.deps.config.recentRowsSeconds * 1000;
    const found = catchUp(poll, answer.notifications, readBefore, sessionTtlMs, asking.now);
    if (found.odoo.some((n) => n.id >= 0)) return { kind: 'catchUp', ...found };
    return { kind: 'rows', rows: found.rows };
  }

  private holdMs(presence: PresenceDecision | undefined, now: number): number {
    const holdMs = this.deps.config.longpollingTimeoutSeconds * 1000;
    if (presence === undefined || presence.forward) return holdMs;
    // The presence was left out: the next poll, which passes it on, must start in time.
    return Math.max(0, Math.min(holdMs, presence.holdUntil - now));
  }
}

function refused(
  id: string,
  error: string,
  version: number | undefined,
  setCookie: string[] = [],
): Extract<PollCall, { kind: 'refused' }> {
  return { kind: 'refused', id, error, version, setCookie };
}
