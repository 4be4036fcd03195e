import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BusRow } from '../../../src/bus/types.js';
import {
  type CarriedIds,
  HandOff,
  type HandOffReader,
  ParkedHandOffs,
} from '../../../src/transports/handOff.js';
import { type Op, simulate, unexplained, violation, WINDOW } from './handOffModel.js';

const CH = new Set(['a']);

function row(id: number, seq: number, extra: Partial<BusRow> = {}): BusRow {
  return { id, channel: 'a', message: `"${id}"`, readAt: 0, seq, ...extra };
}

/** A reader fixed in one state: what it read (with read numbers), its holes, its late rows. */
function fakeReader(state: {
  position: number;
  rows?: BusRow[];
  holes?: number[];
  late?: Array<{ row: BusRow; readAfter: number }>;
}): HandOffReader {
  return {
    position: state.position,
    hasHole: (id) => state.holes?.includes(id) ?? false,
    readSince: (afterSeq, afterId, channels) =>
      (state.rows ?? [])
        .filter((r) => r.seq > afterSeq && r.id > afterId && channels.has(r.channel))
        .sort((a, b) => a.id - b.id),
    missedBelow: (last, channels) =>
      (state.late ?? [])
        .filter(
          ({ row: r, readAfter }) => r.id < last && last <= readAfter && channels.has(r.channel),
        )
        .map(({ row: r }) => r),
  };
}

const request = (reader: HandOffReader, odoo: number[], extra = {}) => ({
  reader,
  database: 'db',
  channels: CH,
  odoo: odoo.map((id) => ({ id, message: `"${id}"` })),
  floor: 0,
  comingBackFrom: 0,
  ...extra,
});

const ids = (rows: ReadonlyArray<{ id: number }>) => rows.map((r) => r.id);

describe('HandOff', () => {
  it('merges Odoo catch-up with the rows read since the snapshot: ascending, each id once', () => {
    const handOff = new HandOff();
    handOff.begin(new Map([['db', 2]]));
    const reader = fakeReader({ position: 9, rows: [row(3, 2), row(7, 3), row(5, 4), row(9, 5)] });
    // Read number 2 (id 3) was read before the snapshot; Odoo has 5 and 8 (not read yet).
    expect(ids(handOff.catchUp(request(reader, [5, 8]), 0))).toEqual([5, 7, 8, 9]);
  });

  it('leaves out what the hub handed the subscriber while Odoo was asked', () => {
    const handOff = new HandOff();
    handOff.begin(new Map());
    expect(handOff.accepts(7)).toBe(true);
    const reader = fakeReader({ position: 9, rows: [row(7, 1), row(9, 2)] });
    expect(ids(handOff.catchUp(request(reader, [7]), 0))).toEqual([9]);
  });

  it('takes rows read meanwhile only above the floor, and late rows below a returning last', () => {
    const handOff = new HandOff();
    handOff.begin(new Map());
    const reader = fakeReader({
      position: 20,
      rows: [row(4, 1), row(15, 2), row(20, 3)],
      late: [{ row: row(4, 1, { late: true }), readAfter: 12 }],
    });
    expect(ids(handOff.catchUp(request(reader, [20], { floor: 10 }), 0))).toEqual([15, 20]);
    const back = new HandOff();
    back.begin(new Map());
    expect(ids(back.catchUp(request(reader, [20], { floor: 10, comingBackFrom: 10 }), 0))).toEqual([
      4, 15, 20,
    ]);
  });

  it('remembers ids sent before the reader read them, refuses the reader copy, then forgets', () => {
    const handOff = new HandOff();
    handOff.begin(new Map());
    const behind = { position: 5, holes: [4] };
    handOff.catchUp(request(fakeReader(behind), [4, 6, 7]), 100);
    handOff.end();
    expect(handOff.acceptsAll).toBe(false);
    expect([handOff.accepts(4), handOff.accepts(6), handOff.accepts(8)]).toEqual([
      false,
      false,
      true,
    ]);
    // Still recording: nothing expires.
    handOff.begin(new Map());
    handOff.expire(fakeReader({ position: 10 }), 100 + WINDOW * 5, WINDOW);
    expect(handOff.accepts(6)).toBe(false);
    handOff.end();
    // The reader passed them: the hub's fast path is back, the late memory lasts a window more.
    handOff.expire(fakeReader({ position: 10 }), 101, WINDOW);
    expect(handOff.acceptsAll).toBe(true);
    expect(handOff.idle).toBe(false);
    handOff.expire(fakeReader({ position: 10 }), 101 + WINDOW + 1, WINDOW);
    expect(handOff.idle).toBe(true);
  });

  it('forgets an early id the reader never read within the window', () => {
    const handOff = new HandOff();
    handOff.begin(new Map());
    handOff.catchUp(request(fakeReader({ position: 1 }), [5]), 0);
    handOff.end();
    handOff.expire(fakeReader({ position: 1 }), WINDOW, WINDOW);
    expect(handOff.accepts(5)).toBe(false);
    handOff.expire(fakeReader({ position: 1 }), WINDOW + 1, WINDOW);
    expect(handOff.idle).toBe(true);
  });

  it('a part carries its unread and late ids to the client next connection', () => {
    const parked = new ParkedHandOffs();
    const first = new HandOff();
    first.begin(new Map());
    // 105 committed late, after 110 was read; Odoo's part has both.
    const reader = fakeReader({
      position: 110,
      rows: [row(110, 1), row(105, 2, { late: true })],
      late: [{ row: row(105, 2, { late: true }), readAfter: 110 }],
    });
    const part = first.part(
      [105, 110].map((id) => ({ id, message: '1' })),
      reader,
      'db',
      CH,
      100,
      0,
      0,
    );
    expect(ids(part)).toEqual([105, 110]);
    first.frameSent(110);
    first.end();
    parked.park('s', first.carry('db', 110, 2) as CarriedIds, 0);
    expect(parked.take('s', 'other', 110)).toBeUndefined();
    expect(parked.take('s', 'db', 109)).toBeUndefined();
    const carried = parked.take('s', 'db', 110);
    expect(carried?.late.has(105)).toBe(true);
    const next = new HandOff();
    next.begin(new Map([['db', 2]]));
    if (carried) next.adopt(carried);
    expect(ids(next.catchUp(request(reader, [111], { comingBackFrom: 110 }), 0))).toEqual([111]);
    expect(parked.size).toBe(0);
  });

  it('carries nothing when nothing is remembered; parked entries expire', () => {
    const handOff = new HandOff();
    expect(handOff.carry('db', 5, 0)).toBeUndefined();
    const parked = new ParkedHandOffs();
    parked.park('s', { database: 'db', upTo: 1, early: new Map(), late: new Map() }, 0);
    parked.sweep(WINDOW, WINDOW);
    expect(parked.size).toBe(1);
    parked.sweep(WINDOW + 1, WINDOW);
    expect(parked.size).toBe(0);
  });
});

/** Random interleavings of inserts, late commits, rollbacks, reads, subscribes and drops. */
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('insert' as const),
      mine: fc.boolean(),
      delay: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 2, arbitrary: fc.integer({ min: 1, max: WINDOW / 2 }) },
        { weight: 1, arbitrary: fc.constant('never' as const) },
      ),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('tick' as const), dt: fc.nat(WINDOW / 4) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'read' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'subscribe' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('odoo' as const),
      partSize: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ t: 'apply' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'drop' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'sweep' as const }) },
);

/** Everything but drops: the connections end only after a catch-up part (the client comes back). */
const withoutDrops = fc
  .array(opArb, { maxLength: 120, size: 'max' })
  .map((ops) => ops.filter((op) => op.t !== 'drop'));

describe('HandOff (properties)', () => {
  it('reads, late commits, rollbacks, subscribes, parts, expiries: no gap, no duplicate, ascending', () => {
    fc.assert(
      fc.property(withoutDrops, (ops) => {
        // See 'a drop after a late row went live' below: a part can end a connection so too.
        expect(unexplained(simulate(ops, { carry: true }))).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('with drops (the client back at once): the same', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120, size: 'max' }), (ops) => {
        expect(unexplained(simulate(ops, { carry: true }))).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('a drop after a late row went live: the client comes back below ids it has', () => {
    // Odoo's client keeps the id ending its last frame: a frame holding only a late row moves it
    // down, and Odoo replays what is above. Known, left as it is (Odoo itself never sends late rows).
    const ops: Op[] = [
      { t: 'subscribe' },
      { t: 'odoo', partSize: 1 },
      { t: 'apply' },
      { t: 'insert', mine: true, delay: 1 },
      { t: 'insert', mine: true, delay: 0 },
      { t: 'tick', dt: 0 },
      { t: 'tick', dt: 1 },
      { t: 'drop' },
    ];
    expect(violation(simulate(ops, { carry: true }))).toBe('duplicate 2');
  });

  it('without the memory carried to the next connection, a late row inside a part is sent twice', () => {
    // The bug the carry fixes: the next connection finds the part's late row again below `last`.
    const result = fc.check(
      fc.property(withoutDrops, (ops) => violation(simulate(ops, { carry: false })) === undefined),
      { numRuns: 5000, seed: 13 },
    );
    expect(result.failed).toBe(true);
    const ops = result.counterexample?.[0] as Op[];
    expect(violation(simulate(ops, { carry: false }))).toMatch(/^duplicate/);
    expect(unexplained(simulate(ops, { carry: true }))).toBeUndefined();
  });

  it('the known case: late row 105 inside a part ending at 110', () => {
    const ops: Op[] = [
      { t: 'insert', mine: true, delay: 5 }, // 1, commits late
      { t: 'insert', mine: true, delay: 0 }, // 2
      { t: 'read' }, // reads 2; 1 is a hole
      { t: 'tick', dt: 5 }, // 1 commits, read late (after 2)
      { t: 'insert', mine: true, delay: 0 }, // 3
      { t: 'subscribe' },
      { t: 'odoo', partSize: 2 }, // part: 1, 2 (3 waits for the next part)
      { t: 'apply' },
    ];
    expect(violation(simulate(ops, { carry: false }))).toBe('duplicate 1');
    expect(violation(simulate(ops, { carry: true }))).toBeUndefined();
  });
});

describe('HandOff for a poll continuing the previous one (long polling)', () => {
  it("keeps all of Odoo's catch-up when asked to, and leaves out the rows read that were sent", () => {
    const handOff = new HandOff();
    const ahead = fakeReader({ position: 5 });
    handOff.passedOn([{ id: 7, message: '"7"' }], ahead, CH, 0);
    // The browser asks again from 0: Odoo answers 7 again, the reader has read 7 and 8 since.
    const reader = fakeReader({ position: 8, rows: [row(7, 1), row(8, 2)] });
    const again = { since: 0, keepOdoo: true };
    expect(ids(handOff.catchUp(request(reader, [7], again), 0))).toEqual([7, 8]);
    expect(ids(handOff.catchUp(request(reader, [], { since: 0 }), 0))).toEqual([8]);
    expect(ids(handOff.catchUp(request(reader, [7], { since: 0 }), 0))).toEqual([8]);
  });

  it("remembers the ids of Odoo's answer passed on as it is, as a catch-up's", () => {
    const handOff = new HandOff();
    const reader = fakeReader({ position: 5, holes: [3] });
    const odoo = [3, 4, 8].map((id) => ({ id, message: `"${id}"` }));
    handOff.passedOn(odoo, reader, CH, 0);
    // 3 (a hole) and 8 (not read yet) may still come from the reader; 4 cannot.
    expect([3, 4, 8].map((id) => handOff.accepts(id))).toEqual([false, true, false]);
    expect(handOff.idle).toBe(false);
  });

  it('takes late rows read since below the floor, and no other row below it', () => {
    const reader = fakeReader({
      position: 20,
      // Read since the previous answer (read number 1): 7 committed late, 8 in order below
      // `last` (Odoo's catch-up had sent it ahead of the reader), 15 above.
      rows: [row(3, 1), row(7, 2, { late: true }), row(8, 3), row(15, 4)],
    });
    const continuing = { floor: 10, since: 1, lateBelowFloor: true };
    expect(ids(new HandOff().catchUp(request(reader, [], continuing), 0))).toEqual([7, 15]);
    expect(ids(new HandOff().catchUp(request(reader, [], { floor: 10, since: 1 }), 0))).toEqual([
      15,
    ]);
  });
});
