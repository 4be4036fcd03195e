/**
 * The LISTEN path proven end to end. Pointed at PgBouncer in transaction mode, the LISTEN
 * connection connects, `LISTEN` succeeds and `SELECT 1` answers, yet no notification ever arrives:
 * the round trip (a NOTIFY sent on a read connection, expected back on the LISTEN connection) must
 * catch it at start, keep the listener down (readiness, metrics), say in the log what to change,
 * and the poll fallback must keep delivering meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/sidecar.js';
import { scrapeMetric } from '../helpers/clients/scrape.js';
import { type LogSink, logSink } from '../helpers/logSink.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
});
afterAll(async () => {
  await stack?.close();
});

async function readiness(): Promise<{
  status: number;
  checks: Record<string, boolean>;
  problems: Record<string, string[]>;
}> {
  const answer = await fetch(`${stack.adminUrl}/readyz`);
  const body = (await answer.json()) as {
    checks: Record<string, boolean>;
    problems: Record<string, string[]>;
  };
  return { status: answer.status, checks: body.checks, problems: body.problems };
}

describe('LISTEN through PgBouncer in transaction mode', () => {
  let sidecar: Sidecar;
  let log: LogSink;

  beforeAll(async () => {
    log = logSink('info');
    sidecar = await stack.startSidecar(
      {
        listenDbHost: stack.bouncer.host,
        listenDbPort: stack.bouncer.port,
        listenProbeSeconds: 1,
        listenProbeTimeoutMs: 1000,
        pollFallbackMs: 200,
      },
      { logger: log.logger },
    );
  });
  afterAll(async () => {
    await sidecar?.destroy();
  });

  it('is detected by the first round trip: not ready, listener_up 0, an error naming the cause and the setting', async () => {
    // The first round trip ran inside start(): the listener never reported up.
    expect(sidecar.listener.isUp).toBe(false);
    expect(sidecar.listener.problem).toMatch(/do not come back.*PgBouncer in transaction mode/);
    const state = await readiness();
    expect(state.status).toBe(503);
    expect(state.checks.listen).toBe(false);
    expect(state.problems.listen?.[0]).toMatch(
      /PgBouncer in transaction mode.*IMDISPATCHER_DB_HOST/,
    );
    expect(await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_listener_up')).toBe(0);
    expect(
      await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_listen_probes_total', {
        outcome: 'timeout',
      }),
    ).toBeGreaterThanOrEqual(1);
    const errors = log
      .entries('error')
      .filter((line) => line.msg.startsWith('LISTEN round trip failed'));
    expect(errors.length).toBe(1);
    expect(errors[0]?.msg).toMatch(/PgBouncer in transaction mode/);
    expect(errors[0]?.msg).toMatch(/IMDISPATCHER_DB_HOST/);
    expect(errors[0]?.msg).toMatch(/imdispatcher_db_host/);
  });

  it('reconnects, stays down while the path drops notifications, and logs the error once', async () => {
    const reconnects = await scrapeMetric(
      stack.adminUrl,
      'odoo_bus_sidecar_listener_reconnects_total',
    );
    await waitFor(
      async () =>
        ((await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_listen_probes_total', {
          outcome: 'timeout',
        })) ?? 0) >= 2,
      { timeoutMs: 30_000, message: 'a second failed round trip after a reconnect' },
    );
    expect(
      await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_listener_reconnects_total'),
    ).toBeGreaterThan(reconnects ?? 0);
    expect(sidecar.listener.isUp).toBe(false);
    expect((await readiness()).checks.listen).toBe(false);
    expect(
      log.entries('error').filter((line) => line.msg.startsWith('LISTEN round trip failed')).length,
    ).toBe(1);
  });

  it('keeps delivering by polling bus_bus meanwhile: no row is lost', async () => {
    const { cookie } = stack.login({ memberChannels: [71] });
    const socket = await stack.subscribed(cookie);
    const writer = stack.writer();
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        await writer.sendone({ channel: ['discuss.channel', 71], type: 'polled', payload: i }),
      );
    }
    for (const id of ids) await socket.waitForNotification((n) => n.id === id, 15_000);
    expect(socket.notificationIds().filter((id) => ids.includes(id))).toEqual(ids);
    expect(sidecar.listener.isUp).toBe(false);
    await socket.close();
  });
});

describe('LISTEN straight on PostgreSQL', () => {
  it('passes the round trip before reporting up, and keeps passing it', async () => {
    const sidecar = await stack.startSidecar({ listenProbeSeconds: 1 });
    try {
      expect(sidecar.listener.isUp).toBe(true);
      expect((await readiness()).checks.listen).toBe(true);
      await waitFor(
        async () =>
          ((await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_listen_probes_total', {
            outcome: 'ok',
          })) ?? 0) >= 2,
        { timeoutMs: 15_000, message: 'a periodic round trip' },
      );
      expect(sidecar.listener.isUp).toBe(true);
      expect(
        await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_listen_probes_total', {
          outcome: 'timeout',
        }),
      ).toBe(0);
    } finally {
      await sidecar.destroy();
    }
  });
});
