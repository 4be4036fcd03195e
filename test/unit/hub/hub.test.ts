/**
 * The hub without any reader: one database's batch reaches the subscribers of its channels in that
 * database only, in frames under the size limit, ascending; a subscriber that throws costs the
 * others nothing; an unsubscribed one gets nothing more.
 */
import { describe, expect, it } from 'vitest';
import type { BusRow } from '../../../src/bus/types.js';
import type { EncodedBatch } from '../../../src/hub/encodedBatch.js';
import { Hub, type HubSubscriber } from '../../../src/hub/hub.js';
import { createMetrics } from '../../../src/observability/metrics.js';

class Subscriber implements HubSubscriber {
  readonly batches: number[][] = [];
  readonly acceptsAll: boolean;
  constructor(
    readonly db: string | undefined,
    private readonly skip = new Set<number>(),
    private readonly broken = false,
  ) {
    this.acceptsAll = skip.size === 0;
  }
  accepts(row: BusRow): boolean {
    return !this.skip.has(row.id);
  }
  send(batch: EncodedBatch): void {
    if (this.broken) throw new Error('socket gone');
    this.batches.push(batch.rows.map((row) => row.id));
  }
}

let seq = 0;
const row = (id: number, channel: string, message = '{}'): BusRow => ({
  id,
  channel,
  message,
  readAt: 0,
  seq: ++seq,
});

function hub(maxFrameBytes = 1024 * 1024) {
  const caught: Array<[string, unknown]> = [];
  const metrics = createMetrics({ defaultMetrics: false });
  const instance = new Hub<Subscriber>({
    maxFrameBytes,
    metrics,
    clock: () => 0,
    caught: (site, error) => caught.push([site, error]),
  });
  return { hub: instance, caught, metrics };
}

describe('Hub.deliver', () => {
  it('sends a database rows to the subscribers of their channels in that database only', () => {
    const { hub: h } = hub();
    const a = new Subscriber('odoo');
    const b = new Subscriber('odoo');
    const other = new Subscriber('other');
    h.subscribe(a, ['x', 'y']);
    h.subscribe(b, ['y']);
    h.subscribe(other, ['x', 'y']);
    h.deliver('odoo', [row(1, 'x'), row(2, 'y'), row(3, 'z')], performance.now());
    expect(a.batches).toEqual([[1, 2]]);
    expect(b.batches).toEqual([[2]]);
    expect(other.batches).toEqual([]);
  });

  it('leaves out the rows a subscriber refuses', () => {
    const { hub: h } = hub();
    const picky = new Subscriber('odoo', new Set([2]));
    h.subscribe(picky, ['x']);
    h.deliver('odoo', [row(1, 'x'), row(2, 'x'), row(3, 'x')], performance.now());
    expect(picky.batches.flat()).toEqual([1, 3]);
  });

  it('splits a batch larger than a frame into frames, ascending, every row once', async () => {
    const { hub: h, metrics } = hub(65_536);
    const s = new Subscriber('odoo');
    h.subscribe(s, ['x']);
    const big = `"${'a'.repeat(30_000)}"`;
    h.deliver(
      'odoo',
      [1, 2, 3, 4, 5].map((id) => row(id, 'x', big)),
      performance.now(),
    );
    expect(s.batches.length).toBeGreaterThan(1);
    expect(s.batches.flat()).toEqual([1, 2, 3, 4, 5]);
    expect((await metrics.framesSplit.get()).values[0]?.value).toBe(1);
  });

  it('goes on to the others when one subscriber throws, and says where', () => {
    const { hub: h, caught } = hub();
    const broken = new Subscriber('odoo', new Set(), true);
    const fine = new Subscriber('odoo');
    h.subscribe(broken, ['x']);
    h.subscribe(fine, ['x']);
    h.deliver('odoo', [row(1, 'x')], performance.now());
    expect(fine.batches).toEqual([[1]]);
    expect(caught.map(([site]) => site)).toEqual(['deliver']);
  });

  it('sends nothing more to an unsubscribed subscriber', () => {
    const { hub: h } = hub();
    const s = new Subscriber('odoo');
    h.subscribe(s, ['x']);
    h.unsubscribe(s);
    h.deliver('odoo', [row(1, 'x')], performance.now());
    expect(s.batches).toEqual([]);
    expect(h.registry.subscriberCount).toBe(0);
  });
});
