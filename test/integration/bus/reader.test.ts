/**
 * `BusReader` alone on a real PostgreSQL (no sidecar around it): holes and late commits, the
 * late-commit window on the reader's own clock, and one read per burst of nudges.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusReader, type ReaderOptions } from '../../../src/bus/reader.js';
import type { BusRow } from '../../../src/bus/types.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import {
  createOdooWriter,
  type OdooTransaction,
  type OdooWriter,
} from '../../helpers/fakeOdoo/odooWriter.js';
import { type PgCluster, SIDECAR_ROLE, startPostgres } from '../../helpers/servers/postgres.js';

let cluster: PgCluster;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await cluster?.stop();
});

interface Subject {
  reader: BusReader;
  writer: OdooWriter;
  metrics: Metrics;
  /** Every batch handed to the hub, in order. */
  batches: BusRow[][];
  /** The ids delivered, in order. */
  ids(): number[];
  /** A transaction left open by a failed test is rolled back at the end. */
  open(): Promise<OdooTransaction>;
  /** Nudges the reader and waits until the read and its deliveries are done. */
  read(): Promise<void>;
}

let databases = 0;
async function subject(
  options: Partial<ReaderOptions> = {},
  /** Runs inside the reader's delivery of each batch (before the read position moves). */
  duringDelivery: (reader: BusReader) => void = () => undefined,
): Promise<Subject> {
  const database = `reader_${++databases}`;
  await cluster.createOdooDatabase(database);
  const pool = new pg.Pool(cluster.connection(database, SIDECAR_ROLE.user));
  const writer = createOdooWriter({ host: cluster.host, port: cluster.port, database });
  const metrics = createMetrics({ defaultMetrics: false });
  const batches: BusRow[][] = [];
  const reader = new BusReader({
    database,
    pool,
    logger: createLogger('silent'),
    metrics,
    deliver: (_db, rows) => {
      batches.push(rows);
      duringDelivery(reader);
    },
    coalesceMs: 5,
    batchSize: 100,
    lateCommitWindowMs: 60_000,
    recentRowsMs: 60_000,
    maxFrameBytes: 1024 * 1024,
    maxRowBytes: 1024 * 1024,
    ...options,
  });
  const transactions: OdooTransaction[] = [];
  cleanups.push(async () => {
    reader.stop();
    for (const tx of transactions) await tx.rollback().catch(() => undefined);
    await writer.close();
    await pool.end();
  });
  await reader.ready();
  return {
    reader,
    writer,
    metrics,
    batches,
    ids: () => batches.flat().map((row) => row.id),
    async open() {
      const tx = await writer.openTransaction();
      transactions.push(tx);
      return tx;
    },
    async read() {
      reader.nudge();
      await reader.idle();
    },
  };
}

const note = (type: string) => ({ channel: ['discuss.channel', 7] as const, type, payload: {} });

async function counter(metric: Metrics['reads'] | Metrics['lateRows'], outcome?: string) {
  const { values } = await metric.get();
  return values.find((v) => outcome === undefined || v.labels.outcome === outcome)?.value ?? 0;
}

describe('BusReader holes', () => {
  it('watches an id skipped by a later commit and delivers its row once when it commits', async () => {
    const s = await subject();
    const tx = await s.open();
    const [low] = (await tx.send([note('low')])) as [number];
    const high = await s.writer.sendone(note('high'));

    await s.read();
    expect(s.ids()).toEqual([high]);
    expect(s.reader.position).toBe(high);
    expect(s.reader.hasHole(low)).toBe(true);
    expect(s.reader.holeCount).toBe(1);

    const snapshot = s.reader.readCount;
    await tx.commit();
    await s.read();
    expect(s.ids()).toEqual([high, low]);
    const late = s.batches.at(-1)?.[0] as BusRow;
    expect(late.late).toBe(true);
    expect(JSON.parse(late.message)).toEqual({ type: 'low', payload: {} });
    expect(s.reader.hasHole(low)).toBe(false);
    expect(s.reader.holeCount).toBe(0);
    expect(s.reader.position).toBe(high);
    expect(await counter(s.metrics.lateRows)).toBe(1);

    // What a subscribe and a client coming back find of it.
    const channels = new Set([late.channel]);
    expect(s.reader.readSince(snapshot, 0, channels).map((r) => r.id)).toEqual([low]);
    expect(s.reader.missedBelow(high, channels).map((r) => r.id)).toEqual([low]);
    expect(s.reader.missedBelow(low, channels)).toEqual([]);
    expect(s.reader.missedBelow(high, new Set(['["other"]']))).toEqual([]);

    // Delivered once: later reads do not bring it again.
    await s.writer.sendone(note('next'));
    await s.read();
    expect(s.ids().filter((id) => id === low)).toHaveLength(1);
  });

  it('stops watching a hole past the late-commit window, on its own clock', async () => {
    let now = 0;
    const s = await subject({ lateCommitWindowMs: 10_000, now: () => now });
    const tx = await s.open();
    const [low] = (await tx.send([note('low')])) as [number];
    const high = await s.writer.sendone(note('high'));
    await s.read();
    expect(s.reader.hasHole(low)).toBe(true);

    now += 9_000;
    await s.read();
    expect(s.reader.hasHole(low)).toBe(true);

    now += 1_001;
    await s.read();
    expect(s.reader.hasHole(low)).toBe(false);
    expect(await counter(s.metrics.holesExpired)).toBe(1);

    await tx.commit();
    const after = await s.writer.sendone(note('after'));
    await s.read();
    expect(s.ids()).toEqual([high, after]);
  });

  it('watches the id of a rolled-back transaction and delivers nothing for it', async () => {
    const s = await subject();
    const tx = await s.open();
    const [gone] = (await tx.send([note('gone')])) as [number];
    const kept = await s.writer.sendone(note('kept'));
    await tx.rollback();
    await s.read();
    await s.read();
    expect(s.ids()).toEqual([kept]);
    expect(s.reader.hasHole(gone)).toBe(true);
  });
});

describe('BusReader coalescing', () => {
  it('serves a burst of nudges with one read of bus_bus, every row once, ascending', async () => {
    const s = await subject();
    const written: number[] = [];
    for (let i = 0; i < 20; i++) written.push(await s.writer.sendone(note(`n${i}`)));
    const readsBefore = await cluster.busReadCount(s.reader.database);
    for (let i = 0; i < 20; i++) s.reader.nudge();
    await s.reader.idle();
    expect(await cluster.busReadCount(s.reader.database)).toBe(readsBefore + 1);
    expect(await counter(s.metrics.reads, 'ok')).toBe(1);
    expect(s.batches).toHaveLength(1);
    expect(s.ids()).toEqual(written);
  });

  it('serves the nudges arriving during a read with exactly one more read', async () => {
    let nudgedDuring = false;
    const s = await subject({}, (reader) => {
      if (nudgedDuring) return;
      nudgedDuring = true;
      for (let i = 0; i < 10; i++) reader.nudge();
    });
    const first = await s.writer.sendone(note('first'));
    await s.read();
    await s.reader.idle();
    expect(nudgedDuring).toBe(true);
    expect(await counter(s.metrics.reads, 'ok')).toBe(2);
    expect(s.ids()).toEqual([first]);
  });

  it('reads a backlog larger than a page in consecutive pages of one run, ascending', async () => {
    const s = await subject({ batchSize: 5 });
    const written = await s.writer.sendmany(Array.from({ length: 12 }, (_, i) => note(`bulk${i}`)));
    await s.read();
    expect(s.batches.map((batch) => batch.length)).toEqual([5, 5, 2]);
    expect(s.ids()).toEqual(written);
    expect(await counter(s.metrics.reads, 'ok')).toBe(3);
  });
});
