/**
 * What the sidecar does with a revocation NOTIFY of the addon, for both transports at once:
 * - named sessions: their sockets and held polls end at once (Odoo deleted the session);
 * - named partners: their sockets are re-validated with Odoo, which decides. Odoo's HTTP workers
 *   cache session tokens and learn of a password change through the registry signaling, so a
 *   worker that has not seen it yet may still call the old session valid. The addon announces a
 *   partner only after that signal (see its README), and the sidecar asks again twice within about
 *   a second (`FOLLOW_UP_DELAYS_MS`), so that a worker still behind, or a read replica lagging,
 *   does not keep the socket open until the periodic re-check.
 *
 * A NOTIFY costs Odoo calls, and anyone who may connect to the NOTIFY database can send one. So a
 * payload is acted upon only when it names a database and, with a secret, is signed
 * (`readRevocation`); a partner is re-checked at most once per `partnerIntervalMs` (a revocation
 * arriving sooner is merged into one more round at the end of the interval, never lost); and at
 * most `maxPartnersPerInterval` partners are re-checked per interval in all (the rest are counted
 * and left to the periodic re-check).
 */
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import {
  partnerKey,
  type Revocation,
  type RevocationOutcome,
  readRevocation,
} from './revocation.js';

/** A transport that ends or re-validates what a revocation names. */
export interface RevocationTarget {
  revoke(revocation: Revocation): void;
}

export interface RevocationHandlerOptions {
  /** The shared secret; undefined: revocations cannot be authenticated and are taken unsigned. */
  secret: string | undefined;
  servesDatabase: (db: string) => boolean;
  targets: readonly RevocationTarget[];
  /** A partner's sockets are re-validated at most once per interval. */
  partnerIntervalMs: number;
  /** Partners re-validated per interval, every database together. */
  maxPartnersPerInterval: number;
  logger: Logger;
  metrics: Metrics;
  /** The deadlines' clock (tests pass their own). */
  clock?: Clock;
}

/**
 * When a named partner's sockets are asked again after the first re-validation. Odoo signals a
 * cache invalidation before the addon announces it, so the first answer is normally right; these
 * cover a worker or replica that is a moment behind, and stay well within a second.
 */
export const FOLLOW_UP_DELAYS_MS: readonly number[] = [250, 750];

/** Repeated warnings about refused NOTIFYs: at most one line per outcome per this period. */
const WARN_PERIOD_MS = 60_000;

const EMPTY: ReadonlySet<string> = new Set();

export class RevocationHandler {
  /** `db\0partner` → monotonic time of its last round, oldest first (re-inserted on each round). */
  private readonly lastRound = new Map<string, number>();
  /** Rounds merged into one at the end of the partner's interval. */
  private readonly deferred = new Map<string, NodeJS.Timeout>();
  private readonly followUps = new Set<NodeJS.Timeout>();
  private readonly warned = new Map<string, { at: number; suppressed: number }>();
  private budget: number;
  private budgetSince: number;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: RevocationHandlerOptions) {
    this.now = options.clock ?? monotonicClock;
    this.budget = options.maxPartnersPerInterval;
    this.budgetSince = this.now();
    if (options.secret === undefined) {
      options.logger.warn(
        'no shared secret: revocation NOTIFYs cannot be authenticated and are applied unsigned; any PostgreSQL role that may connect to the NOTIFY database can close announced sessions and trigger (rate-limited) re-checks',
      );
    }
  }

  /** One payload received on `REVOKE_CHANNEL`. */
  onNotify(payload: string): void {
    if (this.stopped) return;
    const { metrics } = this.options;
    const reading = readRevocation(payload, this.options.secret, this.options.servesDatabase);
    metrics.revocationNotifies.labels(reading.outcome).inc();
    if (!('revocation' in reading)) {
      this.refused(reading.outcome, payload.length, reading.db);
      return;
    }
    const { db, sessions, partners } = reading.revocation;
    if (sessions.size > 0) {
      metrics.revocations.labels('session').inc(sessions.size);
      this.apply({ db, sessions, partners: [], partnerKeys: EMPTY });
    }
    if (partners.length === 0) return;
    metrics.revocations.labels('partner').inc(partners.length);
    const due: number[] = [];
    for (const partner of partners) {
      if (this.admit(db, partner)) due.push(partner);
    }
    if (due.length > 0) this.round(db, due, 'immediate');
  }

  /** Cancels every pending round (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const timer of this.deferred.values()) clearTimeout(timer);
    for (const timer of this.followUps) clearTimeout(timer);
    this.deferred.clear();
    this.followUps.clear();
  }

  /** Whether the partner is re-validated now; otherwise its round is merged or dropped. */
  private admit(db: string, partner: number): boolean {
    const key = `${db}\0${partner}`;
    const now = this.now();
    this.forgetOlderThan(now - this.options.partnerIntervalMs);
    const last = this.lastRound.get(key);
    if (last === undefined || now - last >= this.options.partnerIntervalMs) {
      if (!this.spend(now)) return false;
      this.lastRound.delete(key);
      this.lastRound.set(key, now);
      return true;
    }
    if (!this.deferred.has(key)) {
      const timer = setTimeout(
        () => {
          this.deferred.delete(key);
          if (this.stopped) return;
          const at = this.now();
          if (!this.spend(at)) return;
          this.lastRound.delete(key);
          this.lastRound.set(key, at);
          this.round(db, [partner], 'deferred');
        },
        Math.max(0, last + this.options.partnerIntervalMs - now),
      );
      timer.unref();
      this.deferred.set(key, timer);
    }
    // Several revocations within one interval: the deferred round covers them all.
    this.options.metrics.revocationRechecks.labels('merged').inc();
    return false;
  }

  private forgetOlderThan(limit: number): void {
    for (const [key, at] of this.lastRound) {
      if (at > limit) break;
      // A partner with a round still to come keeps its time: that round measures from it.
      if (!this.deferred.has(key)) this.lastRound.delete(key);
      else break;
    }
  }

  /** Takes one partner from this interval's budget; counts the drop when it is spent. */
  private spend(now: number): boolean {
    const { maxPartnersPerInterval, partnerIntervalMs, metrics } = this.options;
    if (now - this.budgetSince >= partnerIntervalMs) {
      this.budget = maxPartnersPerInterval;
      this.budgetSince = now;
    }
    if (this.budget > 0) {
      this.budget--;
      return true;
    }
    metrics.revocationRechecksDropped.inc();
    this.warn(
      'over_budget',
      0,
      undefined,
      'revocation re-checks over budget: partners left to the periodic re-check',
    );
    return false;
  }

  private round(db: string, partners: number[], kind: 'immediate' | 'deferred'): void {
    const revocation: Revocation = {
      db,
      sessions: EMPTY,
      partners,
      partnerKeys: new Set(partners.map((p) => partnerKey(db, p))),
    };
    this.options.metrics.revocationRechecks.labels(kind).inc();
    this.apply(revocation);
    for (const delay of FOLLOW_UP_DELAYS_MS) {
      const timer = setTimeout(() => {
        this.followUps.delete(timer);
        if (this.stopped) return;
        this.options.metrics.revocationRechecks.labels('follow_up').inc();
        this.apply(revocation);
      }, delay);
      timer.unref();
      this.followUps.add(timer);
    }
  }

  private apply(revocation: Revocation): void {
    for (const target of this.options.targets) {
      try {
        target.revoke(revocation);
      } catch (error) {
        this.options.logger.error(
          { err: error, db: revocation.db },
          'revocation could not be applied',
        );
      }
    }
  }

  private refused(outcome: RevocationOutcome, bytes: number, db: string | undefined): void {
    switch (outcome) {
      case 'other_database':
        // Every Odoo on the cluster announces on this channel: another database's news is not ours.
        this.options.logger.debug({ db }, 'session revocation for a database not served, ignored');
        return;
      case 'malformed':
        this.options.metrics.notifyMalformed.inc();
        this.warn(outcome, bytes, db, 'revocation NOTIFY skipped: not the addon’s payload');
        return;
      case 'no_database':
        this.warn(outcome, bytes, db, 'revocation NOTIFY ignored: it names no database');
        return;
      case 'unsigned':
        this.warn(
          outcome,
          bytes,
          db,
          'revocation NOTIFY ignored: not signed (Odoo’s bus_sidecar_secret must be the sidecar’s secret)',
        );
        return;
      default:
        this.warn(
          outcome,
          bytes,
          db,
          'revocation NOTIFY ignored: bad signature (forged, or Odoo has another secret)',
        );
    }
  }

  /** A warning, at most once per outcome per period; the lines left out are counted in the next. */
  private warn(
    outcome: RevocationOutcome | 'over_budget',
    bytes: number,
    db: string | undefined,
    message: string,
  ): void {
    const now = this.now();
    const last = this.warned.get(outcome);
    if (last !== undefined && now - last.at < WARN_PERIOD_MS) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.warned.set(outcome, { at: now, suppressed: 0 });
    this.options.logger.warn(
      { channel: 'bus_sidecar_revoke', outcome, bytes, db: db?.slice(0, 64), suppressed },
      message,
    );
  }
}
