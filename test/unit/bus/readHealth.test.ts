/**
 * A reader's failure state: the retry delay grows with consecutive failures and starts over after a
 * run that worked; a database counts once among the failing ones; the first failure of a kind is
 * logged with its fix, its repeats at debug, the recovery once; readiness is told why.
 */
import { describe, expect, it } from 'vitest';
import { UnrepresentableIdError } from '../../../src/bus/busId.js';
import { ReadHealth } from '../../../src/bus/readHealth.js';
import type { ConnectFailure } from '../../../src/db/connectErrors.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { logSink } from '../../helpers/logSink.js';

const REFUSED: ConnectFailure = {
  permanent: false,
  cause: 'unreachable',
  problem: 'PostgreSQL refused the connection',
  fix: 'start it',
  detail: 'ECONNREFUSED',
};

async function gauge(metrics: Metrics): Promise<number> {
  return (await metrics.readersFailing.get()).values[0]?.value ?? 0;
}

function health() {
  const sink = logSink('debug');
  const metrics = createMetrics({ defaultMetrics: false });
  const state = new ReadHealth({
    database: 'odoo',
    logger: sink.logger,
    metrics,
    classify: () => REFUSED,
    backoff: { random: () => 0 },
  });
  return { sink, metrics, state };
}

describe('ReadHealth', () => {
  it('doubles the retry delay with each failure, up to its cap, and starts over after a success', () => {
    const { state } = health();
    const delays = Array.from({ length: 8 }, () => state.failed(new Error('boom'), 7));
    expect(delays).toEqual([50, 100, 200, 400, 800, 1600, 2500, 2500]);
    state.succeeded();
    expect(state.failed(new Error('boom'), 7)).toBe(50);
  });

  it('counts a failing database once, and no more once it works again or stopped', async () => {
    const { state, metrics } = health();
    expect(state.healthy).toBe(true);
    state.failed(new Error('boom'), 1);
    state.failed(new Error('boom'), 1);
    expect(state.healthy).toBe(false);
    expect(await gauge(metrics)).toBe(1);
    state.succeeded();
    expect(state.healthy).toBe(true);
    expect(await gauge(metrics)).toBe(0);
    state.failed(new Error('boom'), 1);
    state.stop();
    state.stop();
    expect(await gauge(metrics)).toBe(0);
    state.failed(new Error('boom'), 1);
    state.succeeded();
    expect(await gauge(metrics)).toBe(0);
  });

  it('tells readiness the problem and its fix while failing, nothing once it works', () => {
    const { state } = health();
    expect(state.failure).toBeUndefined();
    state.failed(new Error('connect ECONNREFUSED'), 1);
    expect(state.failure).toBe('PostgreSQL refused the connection; start it');
    state.succeeded();
    expect(state.failure).toBeUndefined();
  });

  it('logs the first failure with the read position, its repeats at debug, the recovery once', () => {
    const { state, sink } = health();
    state.failed(new Error('boom'), 42);
    state.failed(new Error('boom'), 42);
    state.succeeded();
    state.succeeded();
    const lines = sink.entries('debug').map((line) => [line.level, line.msg, line.position]);
    expect(lines).toEqual([
      ['warn', expect.stringContaining('read failed, the read position stays'), 42],
      ['debug', expect.stringContaining('read failed, the read position stays'), 42],
      ['info', 'reads of bus_bus in odoo: reads work again', undefined],
    ]);
  });

  it('names an id past 2^53 - 1 itself, logged once as an error, counted', async () => {
    const { state, sink, metrics } = health();
    const error = new UnrepresentableIdError('odoo', '9007199254740993');
    state.failed(error, 1);
    state.failed(error, 1);
    expect(state.failure).toBe(error.message);
    expect(sink.entries('warn').map((line) => [line.level, line.id])).toEqual([
      ['error', '9007199254740993'],
    ]);
    expect((await metrics.unrepresentableIds.get()).values[0]?.value).toBe(2);
    expect(
      (await metrics.reads.get()).values.find((v) => v.labels.outcome === 'error')?.value,
    ).toBe(2);
  });
});
