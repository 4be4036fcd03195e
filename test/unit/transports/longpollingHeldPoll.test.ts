/**
 * One held poll, without a server: it answers once (rows, the hold's end, a revocation), drops
 * itself when the browser leaves, and leaves the hub whichever way it ends.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BusReader } from '../../../src/bus/reader.js';
import type { BusRow } from '../../../src/bus/types.js';
import { EncodedBatch } from '../../../src/hub/encodedBatch.js';
import type { HubSubscriber } from '../../../src/hub/hub.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import type { PollNotification } from '../../../src/odoo/pollAnswer.js';
import { HandOff } from '../../../src/transports/handOff.js';
import { HeldPoll, type HeldPollContext } from '../../../src/transports/longpolling/heldPoll.js';
import type { AcceptedPoll } from '../../../src/transports/longpolling/pollCall.js';
import type { PollExchange } from '../../../src/transports/longpolling/replies.js';
import type { PollSession } from '../../../src/transports/longpolling/sessions.js';

const CHANNEL = '["db","res.partner",3]';

function row(id: number, extra: Partial<BusRow> = {}): BusRow {
  return { id, channel: CHANNEL, message: `{"n":${id}}`, readAt: 0, seq: id, ...extra };
}

class FakeExchange implements PollExchange {
  readonly written: string[] = [];
  private listeners: Array<() => void> = [];
  write(result: Buffer | string): void {
    this.written.push(result.toString());
  }
  onClose(listener: () => void): void {
    this.listeners.push(listener);
  }
  /** The connection closes (the browser left, or after the answer). */
  close(): void {
    for (const listener of this.listeners) listener();
  }
}

let metrics: ReturnType<typeof createMetrics>;
let inHub: Set<HubSubscriber>;
let held: Set<HeldPoll>;
let caught: unknown[];
let exchange: FakeExchange;
let presence: { wanted: boolean; asked: number; answer: () => Promise<PollNotification[]> };

/** A session whose previous poll was answered here, its browser sent `early` ahead of the reader. */
function session(early: number[] = []): PollSession {
  const handOff = new HandOff();
  handOff.adopt({
    database: 'db',
    upTo: 0,
    early: new Map(early.map((id) => [id, 0])),
    late: new Map(),
  });
  return { hash: 'h', db: 'db', seq: 2, handOff, presence: undefined, seenAt: 0 };
}

function accepted(extra: Partial<AcceptedPoll> = {}): AcceptedPoll {
  const reader = { readCount: 42, position: 40, hasHole: () => false } as unknown as BusReader;
  return {
    requestId: 'r1',
    id: '1',
    version: 15,
    setCookie: [],
    db: 'db',
    reader,
    last: 10,
    keys: new Set([CHANNEL]),
    session: undefined,
    options: undefined,
    browser: {
      address: '127.0.0.1',
      cookie: '',
      host: undefined,
      forwardedFor: undefined,
      forwardedHost: undefined,
      forwardedProto: undefined,
      userAgent: undefined,
    },
    sent: {},
    ...extra,
  };
}

function context(): HeldPollContext {
  return {
    metrics,
    hub: {
      subscribe: (poll) => inHub.add(poll),
      unsubscribe: (poll) => inHub.delete(poll),
    },
    caught: (_site, error) => caught.push(error),
    held: { add: (poll) => held.add(poll), delete: (poll) => held.delete(poll) },
    wantsPresenceItems: () => presence.wanted,
    presenceItems: () => {
      presence.asked++;
      return presence.answer();
    },
  };
}

async function count(outcome: string): Promise<number> {
  const { values } = await metrics.polls.get();
  return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** Whether `promise` has settled once every pending callback ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

beforeEach(() => {
  vi.useFakeTimers();
  metrics = createMetrics({ defaultMetrics: false });
  inHub = new Set();
  held = new Set();
  caught = [];
  exchange = new FakeExchange();
  presence = { wanted: false, asked: 0, answer: async () => [] };
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a held poll', () => {
  it('is answered `[]` when the hold time passes, and leaves the hub', async () => {
    const poll = new HeldPoll(accepted(), exchange, context());
    const finished = poll.hold(30_000);
    expect(inHub.has(poll)).toBe(true);
    expect(held.has(poll)).toBe(true);
    expect(await settled(finished)).toBe(false);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(exchange.written).toEqual(['[]']);
    expect(await settled(finished)).toBe(true);
    expect(inHub.size + held.size).toBe(0);
    expect(await count('timeout')).toBe(1);
  });

  it('is answered by the first batch that reaches it, and by nothing after', async () => {
    const poll = new HeldPoll(accepted(), exchange, context());
    const finished = poll.hold(30_000);
    expect(poll.accepts(row(11))).toBe(true);
    poll.send(new EncodedBatch([row(11), row(12)]));
    expect(exchange.written).toEqual([
      '[{"id":11,"message":{"n":11}},{"id":12,"message":{"n":12}}]',
    ]);
    expect(await settled(finished)).toBe(true);
    expect(inHub.size + held.size).toBe(0);
    // Later rows, the hold's end and a revocation find nothing to answer.
    expect(poll.accepts(row(13))).toBe(false);
    poll.send(new EncodedBatch([row(13)]));
    await vi.advanceTimersByTimeAsync(60_000);
    await poll.end('revoked');
    expect(exchange.written).toHaveLength(1);
    expect(await count('notified')).toBe(1);
    expect(await count('timeout')).toBe(0);
    expect(await count('revoked')).toBe(0);
  });

  it('takes only the rows its poll may get (above `last`, not sent early)', () => {
    const memory = session([12]);
    const poll = new HeldPoll(accepted({ session: memory }), exchange, context());
    void poll.hold(30_000);
    expect(poll.accepts(row(10))).toBe(false);
    expect(poll.accepts(row(11))).toBe(true);
    expect(poll.accepts(row(12))).toBe(false);
    expect(poll.accepts(row(9, { late: true }))).toBe(true);
  });

  it('is dropped when the browser leaves: no answer, out of the hub, nothing kept', async () => {
    const poll = new HeldPoll(accepted(), exchange, context());
    const finished = poll.hold(30_000);
    exchange.close();
    expect(await settled(finished)).toBe(true);
    expect(inHub.size + held.size).toBe(0);
    expect(poll.accepts(row(11))).toBe(false);
    poll.send(new EncodedBatch([row(11)]));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(exchange.written).toEqual([]);
    expect(await count('aborted')).toBe(1);
    expect(await count('timeout')).toBe(0);
  });

  it('counts nothing more when its connection closes after the answer', async () => {
    const poll = new HeldPoll(accepted(), exchange, context());
    void poll.hold(30_000);
    await poll.end('revoked');
    exchange.close();
    expect(exchange.written).toEqual(['[]']);
    expect(await count('revoked')).toBe(1);
    expect(await count('aborted')).toBe(0);
  });

  it("hands its session over to the next poll, except for Odoo's answer passed on as is", async () => {
    const memory = session();
    await new HeldPoll(accepted({ session: memory }), exchange, context()).answerRows(
      [row(11)],
      'immediate',
    );
    expect(memory.seq).toBe(42);
    const other = session();
    await new HeldPoll(accepted({ session: other }), exchange, context()).answerOdoo('[]');
    expect(other.seq).toBe(2);
  });

  it("merges Odoo's catch-up with rows read since, by id, items without a row last", async () => {
    const odoo = [
      { id: 12, text: '{"id": 12, "message": "odoo"}' },
      { id: -1, text: '{"id": -1, "message": "status"}' },
    ];
    await new HeldPoll(accepted(), exchange, context()).answerCatchUp(odoo, [row(11), row(12)]);
    expect(exchange.written).toEqual([
      '[{"id":11,"message":{"n":11}}, {"id": 12, "message": "odoo"}, {"id": -1, "message": "status"}]',
    ]);
  });

  it('asks once for 12.0 im_status items, and neither the hold nor rows answer meanwhile', async () => {
    presence.wanted = true;
    let give: (items: PollNotification[]) => void = () => {};
    presence.answer = () => new Promise((resolve) => (give = resolve));
    const poll = new HeldPoll(accepted({ version: 12 }), exchange, context());
    const finished = poll.hold(30_000);
    poll.send(new EncodedBatch([row(11)]));
    expect(inHub.size + held.size).toBe(0);
    poll.send(new EncodedBatch([row(12)]));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(exchange.written).toEqual([]);
    expect(presence.asked).toBe(1);
    give([{ id: -1, text: '{"id": -1, "message": "status"}' }]);
    await finished;
    expect(exchange.written).toEqual([
      '[{"id":11,"channel":["db","res.partner",3],"message":{"n":11}}, {"id": -1, "message": "status"}]',
    ]);
  });

  it('writes nothing when the browser left while 12.0 im_status items were asked for', async () => {
    presence.wanted = true;
    let give: (items: PollNotification[]) => void = () => {};
    presence.answer = () => new Promise((resolve) => (give = resolve));
    const memory = session();
    const poll = new HeldPoll(accepted({ version: 12, session: memory }), exchange, context());
    const finished = poll.hold(30_000);
    poll.send(new EncodedBatch([row(11)]));
    exchange.close();
    expect(await settled(finished)).toBe(true);
    give([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(exchange.written).toEqual([]);
    // Its rows were not answered: the next poll does not take over from them.
    expect(memory.seq).toBe(2);
    expect(await count('aborted')).toBe(1);
  });

  it('answers its rows alone when the im_status items cannot be had', async () => {
    presence.wanted = true;
    presence.answer = async () => {
      throw new Error('boom');
    };
    const poll = new HeldPoll(accepted({ version: 12 }), exchange, context());
    await poll.answerRows([row(11)], 'immediate');
    expect(exchange.written).toEqual([
      '[{"id":11,"channel":["db","res.partner",3],"message":{"n":11}}]',
    ]);
    expect(caught).toHaveLength(1);
  });

  it('is answered `[]` without im_status items when revoked', async () => {
    presence.wanted = true;
    const poll = new HeldPoll(accepted({ version: 12 }), exchange, context());
    void poll.hold(30_000);
    await poll.end('revoked');
    expect(exchange.written).toEqual(['[]']);
    expect(presence.asked).toBe(0);
  });
});
