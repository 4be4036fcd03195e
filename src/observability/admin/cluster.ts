/**
 * The admin port of a cluster (`workers > 1`). Each worker holds its own sockets, LISTEN
 * connection, readers and metrics; a port shared by the workers would answer from whichever
 * worker the connection landed on. So the primary serves the admin port alone, and asks every
 * worker over the cluster's IPC channel:
 *
 * - `/metrics`: the workers' registries aggregated as prom-client's `AggregatorRegistry` does
 *   (counters, histograms and most gauges summed; `ready` and `listener_up` the minimum, so they
 *   are 1 only when every worker's is; `build_info` the first);
 * - `/readyz`: ready when every live worker answered ready, with each worker's checks;
 * - `/status`: the same aggregation, sampled once a second; the busiest channels summed over the
 *   workers.
 *
 * Per-worker detail is lost in the sums (one worker near its open-file limit shows as the
 * average): the answer lists each worker's readiness, and its logs carry its pid. The counts of a
 * worker that exited stay in the sums, so counters never go down (`retiredCounters.ts`).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Config } from '../../config/load.js';
import type { Logger } from '../logger.js';
import type { StatusExtras } from '../status/document.js';
import type { MetricJson } from '../status/metricJson.js';
import { RetiredCounters } from './retiredCounters.js';
import {
  AdminServer,
  metricsJson,
  type ReadinessReport,
  type SidecarParts,
  sidecarExtras,
} from './sidecarAdmin.js';

const REQUEST = 'odoo-bus-sidecar:admin-request';
const REPLY = 'odoo-bus-sidecar:admin-reply';
/** A worker busy for longer than this is left out of one answer. */
const REPLY_TIMEOUT_MS = 3000;

type Ask = { kind: 'metrics' } | { kind: 'sample'; names: readonly string[] } | { kind: 'extras' };

interface Request {
  type: typeof REQUEST;
  id: number;
  ask: Ask;
}

interface Reply {
  type: typeof REPLY;
  id: number;
  value?: unknown;
  error?: string;
}

interface WorkerExtras extends StatusExtras {
  pid: number;
  sockets: number;
}

function isRequest(message: unknown): message is Request {
  return (message as { type?: unknown } | null)?.type === REQUEST;
}

function isReply(message: unknown): message is Reply {
  return (message as { type?: unknown } | null)?.type === REPLY;
}

/** In a worker: answers the primary's questions from this worker's sidecar. */
export function answerPrimary(parts: SidecarParts): void {
  process.on('message', (message: unknown) => {
    if (!isRequest(message)) return;
    const answer = async (): Promise<unknown> => {
      switch (message.ask.kind) {
        case 'metrics':
          return parts.metrics.registry.getMetricsAsJSON();
        case 'sample':
          return metricsJson(parts.metrics, message.ask.names);
        case 'extras':
          return {
            ...(await sidecarExtras(parts)),
            pid: process.pid,
            sockets: parts.websockets.openCount,
          } satisfies WorkerExtras;
      }
    };
    answer().then(
      (value) => process.send?.({ type: REPLY, id: message.id, value } satisfies Reply),
      (error: unknown) =>
        process.send?.({ type: REPLY, id: message.id, error: String(error) } satisfies Reply),
    );
  });
}

/** In the primary: the admin server, its answers gathered from the workers. */
export function clusterAdmin(config: Config, logger: Logger): AdminServer {
  let nextId = 1;
  const pending = new Map<number, (reply: Reply) => void>();
  cluster.on('message', (_worker, message: unknown) => {
    if (isReply(message)) pending.get(message.id)?.(message);
  });
  const retired = new RetiredCounters();
  cluster.on('exit', (worker) => retired.retire(worker.id));

  const askOne = (worker: Worker, ask: Ask): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`worker ${worker.process.pid} did not answer in time`));
      }, REPLY_TIMEOUT_MS);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        pending.delete(id);
        if (reply.error !== undefined) reject(new Error(reply.error));
        else resolve(reply.value);
      });
      worker.send({ type: REQUEST, id, ask } satisfies Request);
    });

  /** Every live worker's answer, by worker id; those that fail or are late are left out. */
  const askAll = async (
    ask: Ask,
  ): Promise<{ live: number; answers: unknown[]; byWorker: Map<number, unknown> }> => {
    const workers = Object.values(cluster.workers ?? {}).filter(
      (worker): worker is Worker => worker?.isConnected() === true,
    );
    const settled = await Promise.allSettled(workers.map((worker) => askOne(worker, ask)));
    const byWorker = new Map<number, unknown>();
    settled.forEach((s, i) => {
      const worker = workers[i];
      if (s.status === 'fulfilled' && worker !== undefined) byWorker.set(worker.id, s.value);
    });
    return { live: workers.length, answers: [...byWorker.values()], byWorker };
  };

  /** The workers' metrics summed, with the counts of the workers gone (`RetiredCounters`). */
  const aggregated = async (
    ask: Extract<Ask, { kind: 'metrics' | 'sample' }>,
  ): Promise<Registry> => {
    const { byWorker } = await askAll(ask);
    for (const [id, metrics] of byWorker) retired.seen(id, metrics as MetricJson[]);
    const gone = retired.metrics(ask.kind === 'sample' ? ask.names : undefined);
    return AggregatorRegistry.aggregate([...byWorker.values(), gone] as object[]);
  };

  const extras = async (): Promise<StatusExtras & { live: number }> => {
    const { live, answers } = await askAll({ kind: 'extras' });
    const workers = answers as WorkerExtras[];
    const checks: Record<string, boolean> = {};
    for (const worker of workers)
      for (const [name, ok] of Object.entries(worker.readiness.checks))
        checks[name] = (checks[name] ?? true) && ok;
    checks.workers = workers.length > 0 && workers.length === live;
    const channels = new Map<string, number>();
    for (const worker of workers)
      for (const { channel, subscribers } of worker.topChannels)
        channels.set(channel, (channels.get(channel) ?? 0) + subscribers);
    return {
      live,
      readiness: {
        ready: checks.workers && workers.every((worker) => worker.readiness.ready),
        checks,
      },
      topChannels: [...channels]
        .map(([channel, subscribers]) => ({ channel, subscribers }))
        .sort((a, b) => b.subscribers - a.subscribers)
        .slice(0, 10),
      workers: workers.map((worker) => ({
        pid: worker.pid,
        ready: worker.readiness.ready,
        sockets: worker.sockets,
      })),
    };
  };

  return new AdminServer(config, logger.child({ component: 'cluster-admin' }), {
    readiness: async () => {
      const { readiness, workers, live } = await extras();
      const answer: ReadinessReport & Pick<StatusExtras, 'workers'> & { live: number } = {
        ...readiness,
        workers,
        live,
      };
      return answer;
    },
    metrics: async () => {
      const registry = await aggregated({ kind: 'metrics' });
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
    metricsJson: async (names) =>
      (await (
        await aggregated({ kind: 'sample', names })
      ).getMetricsAsJSON()) as unknown as MetricJson[],
    extras,
  });
}
