/**
 * The admin port of a two-worker sidecar process: its primary alone listens there and answers
 * from both workers (readiness of each, metrics aggregated as prom-client's AggregatorRegistry
 * does, the status page's sums), while the workers share the public port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config/load.js';
import type { StatusDocument } from '../../src/observability/status/document.js';
import { metricValue, scrapeMetrics } from '../helpers/clients/metricsText.js';
import { type BrowserSocket, connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { type SidecarProcess, spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;
let sidecar: SidecarProcess;
const sockets: BrowserSocket[] = [];

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
  sidecar = await spawnSidecar({
    ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
    workers: 2,
  });
});
afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close().catch(() => undefined)));
  sidecar?.kill('SIGKILL');
  await stack?.close();
});

describe('the admin port with workers', () => {
  it('is ready when both workers are, and says so for each', async () => {
    const answer = await fetch(`${sidecar.adminUrl}/readyz`);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      ready: boolean;
      workers: Array<{ pid: number; ready: boolean }>;
    };
    expect(body.ready).toBe(true);
    expect(body.workers).toHaveLength(2);
    expect(body.workers.every((worker) => worker.ready && worker.pid !== sidecar.child.pid)).toBe(
      true,
    );
  });

  it("sums the workers' sockets, and keeps ready and LISTEN at 1 only when every worker's is", async () => {
    const before = stack.odoo.callsTo('/websocket/peek_notifications').length;
    for (let i = 0; i < 6; i++) {
      // A session each: subscribes of one session in flight together share one call to Odoo.
      const { cookie } = stack.login({ memberChannels: [1] });
      const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, {
        cookie,
      });
      socket.subscribe([], 0);
      sockets.push(socket);
    }
    await waitFor(() => stack.odoo.callsTo('/websocket/peek_notifications').length - before >= 6, {
      message: 'six subscribes reaching Odoo',
    });
    const metrics = await waitFor(
      async () => {
        const text = await scrapeMetrics(sidecar.adminUrl);
        return metricValue(text, 'odoo_bus_sidecar_ws_connections') === 6 && text;
      },
      { message: "the aggregated metrics counting both workers' sockets" },
    );
    expect(metricValue(metrics, 'odoo_bus_sidecar_ready')).toBe(1);
    expect(metricValue(metrics, 'odoo_bus_sidecar_listener_up')).toBe(1);
    expect(metricValue(metrics, 'odoo_bus_sidecar_build_info')).toBe(1);
    // Each worker holds its own calls to Odoo: the limits add up.
    const single = configFrom(sidecarSettings(stack.pg, stack.bouncer, stack.router.url));
    expect(metricValue(metrics, 'odoo_bus_sidecar_odoo_concurrency_limit')).toBe(
      2 * single.odooConcurrency,
    );

    const doc = await waitFor(
      async () => {
        const answer = (await (
          await fetch(`${sidecar.adminUrl}/status.json`)
        ).json()) as StatusDocument;
        return answer.totals.sockets === 6 && answer;
      },
      { message: 'the status page counting both workers' },
    );
    expect(doc.workers).toBe(2);
    // The primary handed the connections to both workers.
    expect(doc.workerStates.map((worker) => worker.sockets).sort()).not.toContain(0);
    expect(doc.workerStates.reduce((sum, worker) => sum + worker.sockets, 0)).toBe(6);
    expect(doc.pid).toBe(sidecar.child.pid);
    expect(doc.series.values.sockets?.at(-1)).toBe(6);
    // Not on the workers' shared public port.
    expect((await fetch(`http://127.0.0.1:${sidecar.port}/metrics`)).status).toBe(404);
  });

  it('keeps the counts of a worker that died in its counters, which never go down', async () => {
    const before = await scrapeMetrics(sidecar.adminUrl);
    const accepted = metricValue(before, 'odoo_bus_sidecar_ws_connections_total');
    expect(accepted).toBeGreaterThanOrEqual(6);
    const ready = (await (await fetch(`${sidecar.adminUrl}/readyz`)).json()) as {
      workers: Array<{ pid: number; sockets: number }>;
    };
    const victim = ready.workers.find((worker) => worker.sockets > 0);
    if (victim === undefined) throw new Error('no worker holds a socket');
    process.kill(victim.pid, 'SIGKILL');
    const after = await waitFor(
      async () => {
        const text = await scrapeMetrics(sidecar.adminUrl);
        // Its sockets are gone from the gauge...
        return metricValue(text, 'odoo_bus_sidecar_ws_connections') <= 6 - victim.sockets && text;
      },
      { message: "the dead worker's sockets gone from the gauge" },
    );
    // ...and stay in the counter.
    expect(metricValue(after, 'odoo_bus_sidecar_ws_connections_total')).toBeGreaterThanOrEqual(
      accepted,
    );
  });
});
