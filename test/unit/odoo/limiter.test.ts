import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CallAbandonedError,
  ClientQueueFullError,
  Limiter,
  type LimiterOptions,
  QueueDeadlineError,
  QueueFullError,
} from '../../../src/odoo/limiter.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Lets every settled promise's continuations run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Call {
  id: number;
  address: string;
  session: string;
  abort: AbortController;
  gate: ReturnType<typeof deferred>;
  state: 'waiting' | 'running' | 'done' | 'refused';
  refusal?: Error;
  /** The harness clock when the call was made. */
  at: number;
}

/** A limiter with a hand-driven clock, and calls whose tasks end when the test says so. */
function harness(options: Omit<LimiterOptions, 'now'>) {
  let clock = 0;
  const limiter = new Limiter({ ...options, now: () => clock });
  const calls: Call[] = [];
  const started: Call[] = [];
  return {
    limiter,
    calls,
    started,
    get clock() {
      return clock;
    },
    advance(ms: number) {
      clock += ms;
      limiter.expire();
    },
    submit(address: string, session = '') {
      const call: Call = {
        id: calls.length,
        address,
        session,
        abort: new AbortController(),
        gate: deferred(),
        state: 'waiting',
        at: clock,
      };
      calls.push(call);
      limiter
        .run(
          async () => {
            call.state = 'running';
            started.push(call);
            await call.gate.promise;
          },
          { address, session },
          call.abort.signal,
        )
        .then(
          () => {
            call.state = 'done';
          },
          (error: Error) => {
            call.state = 'refused';
            call.refusal = error;
          },
        );
      return call;
    },
  };
}

type Harness = ReturnType<typeof harness>;

/** Slots and places, in all and per address, with a deadline no test reaches. */
function limitsOf(
  slots: number,
  places: number,
  slotsPerAddress: number,
  placesPerAddress: number,
) {
  return { slots, places, slotsPerAddress, placesPerAddress, waitMs: 60_000 };
}

/** The caps that must hold at every moment. */
function checkCaps(h: Harness, options: Omit<LimiterOptions, 'now'>) {
  const running = h.calls.filter((c) => c.state === 'running');
  const waiting = h.calls.filter((c) => c.state === 'waiting');
  expect(running.length).toBeLessThanOrEqual(options.slots);
  expect(h.limiter.inFlight).toBe(running.length);
  expect(h.limiter.queued).toBe(waiting.length);
  expect(waiting.length).toBeLessThanOrEqual(options.places);
  for (const address of new Set(h.calls.map((c) => c.address))) {
    const mine = (c: Call) => c.address === address;
    expect(running.filter(mine).length).toBeLessThanOrEqual(options.slotsPerAddress);
    expect(waiting.filter(mine).length).toBeLessThanOrEqual(options.placesPerAddress);
  }
  // No slot stays free while a waiting call could take it.
  if (running.length < options.slots) {
    for (const call of waiting) {
      const ofAddress = running.filter((c) => c.address === call.address).length;
      expect(ofAddress).toBeGreaterThanOrEqual(options.slotsPerAddress);
    }
  }
}

const ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
const SESSIONS = ['', 'a', 'b'];

const command = fc.oneof(
  fc.record({
    kind: fc.constant('submit' as const),
    address: fc.constantFrom(...ADDRESSES),
    session: fc.constantFrom(...SESSIONS),
  }),
  fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }),
);

const limits = fc.record({
  slots: fc.integer({ min: 1, max: 4 }),
  places: fc.integer({ min: 1, max: 12 }),
  slotsPerAddress: fc.integer({ min: 1, max: 4 }),
  placesPerAddress: fc.integer({ min: 1, max: 6 }),
  waitMs: fc.integer({ min: 50, max: 1000 }),
});

describe('Limiter (fair queue of calls to Odoo)', () => {
  it('keeps every cap at every step, refuses with a reason, loses no call', async () => {
    await fc.assert(
      fc.asyncProperty(limits, fc.array(command, { maxLength: 60 }), async (options, commands) => {
        const h = harness(options);
        for (const cmd of commands) {
          if (cmd.kind === 'submit') h.submit(cmd.address, cmd.session);
          else if (cmd.kind === 'finish') {
            const running = h.calls.filter((c) => c.state === 'running');
            running[cmd.pick % Math.max(1, running.length)]?.gate.resolve();
          } else if (cmd.kind === 'abort') {
            const waiting = h.calls.filter((c) => c.state === 'waiting');
            waiting[cmd.pick % Math.max(1, waiting.length)]?.abort.abort();
          } else h.advance(cmd.ms);
          await flush();
          checkCaps(h, options);
          // Nothing still waits past its deadline.
          for (const call of h.calls.filter((c) => c.state === 'waiting'))
            expect(h.clock - call.at).toBeLessThan(options.waitMs);
        }
        // Drain: every call ends, either run to the end or refused for a stated reason.
        for (
          let round = 0;
          round < 200 && h.calls.some((c) => c.state !== 'done' && c.state !== 'refused');
          round++
        ) {
          for (const call of h.calls) if (call.state === 'running') call.gate.resolve();
          await flush();
          checkCaps(h, options);
        }
        for (const call of h.calls) {
          expect(['done', 'refused']).toContain(call.state);
          if (call.state === 'refused') {
            expect(
              call.refusal instanceof QueueFullError || call.refusal instanceof CallAbandonedError,
            ).toBe(true);
          }
        }
        expect([h.limiter.inFlight, h.limiter.queued]).toEqual([0, 0]);
      }),
      { numRuns: 150 },
    );
  });

  it('no client starves: a newcomer starts before any other address gets a second turn', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({
            address: fc.constantFrom(...ADDRESSES),
            session: fc.constantFrom(...SESSIONS),
          }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
        async (slots, flood, finishOrder) => {
          const options = {
            slots,
            places: 1000,
            slotsPerAddress: slots,
            placesPerAddress: 1000,
            waitMs: 60_000,
          };
          const h = harness(options);
          for (const f of flood) h.submit(f.address, f.session);
          await flush();
          const victim = h.submit('192.168.1.1');
          await flush();
          const startedBefore = h.started.length;
          const otherAddresses = new Set(
            h.calls.filter((c) => c.state === 'waiting' && c !== victim).map((c) => c.address),
          ).size;
          for (const pick of finishOrder) {
            if (victim.state !== 'waiting') break;
            const running = h.calls.filter((c) => c.state === 'running');
            running[pick % running.length]?.gate.resolve();
            await flush();
          }
          expect(victim.state).toBe('running');
          const othersFirst = h.started.indexOf(victim) - startedBefore;
          expect(othersFirst).toBeLessThanOrEqual(otherAddresses);
          for (const call of h.calls) call.gate.resolve();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('within one address, sessions take turns: one session flooding delays another by one call per turn', async () => {
    const h = harness(limitsOf(1, 100, 1, 100));
    const first = h.submit('10.0.0.9', 'flooder');
    for (let i = 0; i < 20; i++) h.submit('10.0.0.9', 'flooder');
    const colleague = h.submit('10.0.0.9', 'colleague');
    await flush();
    first.gate.resolve();
    await flush();
    // The flooder's second call was waiting first, but the colleague's session had no turn yet.
    expect(h.started.map((c) => c.session)).toEqual(['flooder', 'colleague']);
    colleague.gate.resolve();
    await flush();
    for (const call of h.calls) call.gate.resolve();
    await flush();
  });

  it("caps one address's slots: a slow client cannot take every slot from the others", async () => {
    const h = harness(limitsOf(4, 100, 2, 100));
    for (let i = 0; i < 10; i++) h.submit('10.6.6.6');
    await flush();
    expect(h.limiter.clientLoad('10.6.6.6')).toEqual({ active: 2, queued: 8 });
    const user = h.submit('10.1.1.1', 'user');
    await flush();
    // Two slots are free for everyone else, without waiting for the slow client.
    expect(user.state).toBe('running');
    for (const call of h.calls) call.gate.resolve();
    await flush();
  });

  it("caps one address's places, and all places together", async () => {
    const h = harness(limitsOf(1, 5, 1, 3));
    for (let i = 0; i < 5; i++) h.submit('10.6.6.6');
    for (let i = 0; i < 4; i++) h.submit('10.7.7.7');
    await flush();
    const refusals = h.calls.filter((c) => c.state === 'refused').map((c) => c.refusal);
    // 10.6.6.6: one running, three waiting, one refused; 10.7.7.7: two waiting, then the queue is full.
    expect(refusals.filter((e) => e instanceof ClientQueueFullError)).toHaveLength(1);
    expect(refusals.filter((e) => !(e instanceof ClientQueueFullError))).toHaveLength(2);
    expect(h.limiter.queued).toBe(5);
    for (const call of h.calls) call.gate.resolve();
    for (let i = 0; i < 10; i++) {
      await flush();
      for (const call of h.calls) call.gate.resolve();
    }
  });

  it('refuses a call that waited past its deadline; it never runs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 10, max: 1000 }),
        fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 10 }),
        async (waitMs, steps) => {
          const h = harness({
            slots: 1,
            places: 100,
            slotsPerAddress: 1,
            placesPerAddress: 100,
            waitMs,
          });
          const blocker = h.submit('10.0.0.1');
          const queuedAt = new Map<Call, number>();
          let now = 0;
          for (const step of steps) {
            queuedAt.set(h.submit(`10.0.1.${step % 7}`), now);
            await flush();
            now += step;
            h.advance(step);
            await flush();
            for (const [call, at] of queuedAt) {
              if (now - at >= waitMs) {
                expect(call.state).toBe('refused');
                expect(call.refusal).toBeInstanceOf(QueueDeadlineError);
              } else expect(call.state).toBe('waiting');
            }
          }
          blocker.gate.resolve();
          await flush();
          for (const call of h.calls) call.gate.resolve();
          await flush();
          for (const [call] of queuedAt)
            if (call.refusal instanceof QueueDeadlineError) expect(h.started).not.toContain(call);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('drops a waiting call whose client left, at once and without running it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), async (leaves) => {
        const h = harness(limitsOf(1, 100, 1, 100));
        const blocker = h.submit('10.0.0.1');
        const queued = leaves.map((_, i) => h.submit(`10.0.2.${i % 5}`, String(i % 3)));
        await flush();
        queued.forEach((call, i) => {
          if (leaves[i]) call.abort.abort();
        });
        await flush();
        const stayed = queued.filter((_, i) => !leaves[i]);
        expect(h.limiter.queued).toBe(stayed.length);
        for (let round = 0; round <= queued.length; round++) {
          for (const call of h.calls) if (call.state === 'running') call.gate.resolve();
          blocker.gate.resolve();
          await flush();
        }
        queued.forEach((call, i) => {
          if (leaves[i]) {
            expect(call.refusal).toBeInstanceOf(CallAbandonedError);
            expect(h.started).not.toContain(call);
          } else expect(call.state).toBe('done');
        });
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a call whose client already left before it asked', async () => {
    const limiter = new Limiter({
      slots: 1,
      places: 1,
      slotsPerAddress: 1,
      placesPerAddress: 1,
      waitMs: 1000,
    });
    let ran = false;
    await expect(
      limiter.run(
        async () => {
          ran = true;
        },
        { address: 'a', session: '' },
        AbortSignal.abort(),
      ),
    ).rejects.toBeInstanceOf(CallAbandonedError);
    expect(ran).toBe(false);
  });

  it('expires waiting calls by itself, on a timer', async () => {
    const limiter = new Limiter({
      slots: 1,
      places: 5,
      slotsPerAddress: 1,
      placesPerAddress: 5,
      waitMs: 30,
    });
    const gate = deferred();
    const first = limiter.run(() => gate.promise, { address: 'a', session: '' });
    const late = limiter.run(async () => 'ran', { address: 'b', session: '' });
    await expect(late).rejects.toBeInstanceOf(QueueDeadlineError);
    gate.resolve();
    await first;
    expect([limiter.inFlight, limiter.queued]).toEqual([0, 0]);
  });
});
