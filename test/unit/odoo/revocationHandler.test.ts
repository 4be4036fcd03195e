import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { type Revocation, revocationSignature } from '../../../src/odoo/revocation.js';
import {
  FOLLOW_UP_DELAYS_MS,
  RevocationHandler,
  type RevocationHandlerOptions,
} from '../../../src/odoo/revocationHandler.js';

const SECRET = 'k';
const INTERVAL_MS = 2000;
const LAST_FOLLOW_UP_MS = Math.max(...FOLLOW_UP_DELAYS_MS);

function signed(db: string, partners: number[], sessions: string[] = []): string {
  return JSON.stringify({
    db,
    partners,
    sessions,
    sig: revocationSignature(SECRET, db, sessions, partners),
  });
}

let applied: Revocation[];
let handler: RevocationHandler;
let metrics: ReturnType<typeof createMetrics>;

function start(options: Partial<RevocationHandlerOptions> = {}): void {
  metrics = createMetrics({ defaultMetrics: false });
  handler = new RevocationHandler({
    secret: SECRET,
    servesDatabase: () => true,
    targets: [{ revoke: (r) => applied.push(r) }],
    partnerIntervalMs: INTERVAL_MS,
    maxPartnersPerInterval: 100,
    logger: createLogger('silent'),
    metrics,
    // The fake clock of vitest drives both the timers and the handler's time.
    clock: () => Date.now(),
    ...options,
  });
}

async function count(kind: string): Promise<number> {
  const { values } = await metrics.revocationRechecks.get();
  return values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

/** The partners named by each revocation applied so far. */
function rounds(): number[][] {
  return applied.filter((r) => r.partners.length > 0).map((r) => [...r.partners]);
}

beforeEach(() => {
  vi.useFakeTimers();
  applied = [];
});
afterEach(() => {
  handler.stop();
  vi.useRealTimers();
});

describe('RevocationHandler', () => {
  it('closes named sessions once, and re-validates named partners now and twice more within a second', () => {
    start();
    handler.onNotify(signed('db1', [7], ['h1']));
    expect(applied).toHaveLength(2);
    expect([...(applied[0]?.sessions ?? [])]).toEqual(['h1']);
    expect([...(applied[1]?.partnerKeys ?? [])]).toEqual(['["db1","res.partner",7]']);
    vi.advanceTimersByTime(LAST_FOLLOW_UP_MS);
    expect(rounds()).toEqual([[7], [7], [7]]);
    expect(applied.filter((r) => r.sessions.size > 0)).toHaveLength(1);
    expect(LAST_FOLLOW_UP_MS).toBeLessThan(1000);
  });

  it('merges the revocations of one partner within its interval into one more round at its end', async () => {
    start();
    for (let i = 0; i < 20; i++) handler.onNotify(signed('db1', [7]));
    vi.advanceTimersByTime(LAST_FOLLOW_UP_MS);
    expect(rounds()).toHaveLength(1 + FOLLOW_UP_DELAYS_MS.length);
    expect(await count('merged')).toBe(19);
    vi.advanceTimersByTime(INTERVAL_MS);
    // Never lost: the merged ones get their own round (with its follow-ups).
    expect(rounds()).toHaveLength(2 * (1 + FOLLOW_UP_DELAYS_MS.length));
    expect(await count('deferred')).toBe(1);
    vi.advanceTimersByTime(10 * INTERVAL_MS);
    expect(rounds()).toHaveLength(2 * (1 + FOLLOW_UP_DELAYS_MS.length));
    // Past the interval, a new revocation is applied at once again.
    handler.onNotify(signed('db1', [7]));
    expect(rounds()).toHaveLength(2 * (1 + FOLLOW_UP_DELAYS_MS.length) + 1);
  });

  it('limits each partner on its own, per database', () => {
    start();
    handler.onNotify(signed('db1', [7, 8]));
    handler.onNotify(signed('db2', [7]));
    handler.onNotify(signed('db1', [8, 9]));
    expect(rounds()).toEqual([[7, 8], [7], [9]]);
  });

  it('re-validates at most the budget of partners per interval, and counts the others', async () => {
    start({ maxPartnersPerInterval: 3 });
    handler.onNotify(signed('db1', [1, 2, 3, 4, 5]));
    expect(rounds()).toEqual([[1, 2, 3]]);
    expect((await metrics.revocationRechecksDropped.get()).values[0]?.value).toBe(2);
    vi.advanceTimersByTime(INTERVAL_MS);
    handler.onNotify(signed('db1', [4, 5]));
    expect(rounds().at(-1)).toEqual([4, 5]);
  });

  it('acts on nothing unsigned, badly signed or without a database, and counts each', async () => {
    start();
    handler.onNotify(JSON.stringify({ db: 'db1', partners: [7], sessions: ['h'] }));
    handler.onNotify(JSON.stringify({ db: 'db1', partners: [7], sessions: [], sig: '00' }));
    handler.onNotify(JSON.stringify({ partners: [7], sessions: ['h'] }));
    handler.onNotify('{');
    vi.advanceTimersByTime(10 * INTERVAL_MS);
    expect(applied).toEqual([]);
    const { values } = await metrics.revocationNotifies.get();
    const byOutcome = Object.fromEntries(values.map((v) => [v.labels.outcome, v.value]));
    expect(byOutcome).toMatchObject({
      unsigned: 1,
      bad_signature: 1,
      no_database: 1,
      malformed: 1,
      applied: 0,
    });
  });

  it('takes unsigned revocations without a secret, with the same limits', () => {
    start({ secret: undefined });
    handler.onNotify(JSON.stringify({ db: 'db1', partners: [7] }));
    handler.onNotify(JSON.stringify({ db: 'db1', partners: [7] }));
    handler.onNotify(JSON.stringify({ partners: [8] }));
    expect(rounds()).toEqual([[7]]);
  });

  it('cancels pending rounds when stopped', () => {
    start();
    handler.onNotify(signed('db1', [7]));
    handler.onNotify(signed('db1', [7]));
    handler.stop();
    vi.advanceTimersByTime(10 * INTERVAL_MS);
    expect(rounds()).toEqual([[7]]);
  });
});
