/**
 * The load-generator processes, driven together: N sockets split evenly over them, each process on
 * its own loopback source address (a fresh one per run, so closed connections lingering in
 * TIME_WAIT never exhaust a run's ephemeral ports), and their receipts merged.
 */
import { type Child, forkBench } from './children.js';
import { Histogram } from './histogram.js';
import type {
  ClientCommand,
  ClientReply,
  ClientStatus,
  Collected,
  LatencyBin,
  SeqStat,
} from './protocol.js';
import { mergeStormStatus, type StormClientStatus } from './storm.js';
import type { RunningTarget } from './targets.js';

const SOURCE_ADDRESSES_PER_CLIENT = 8;

export interface ConnectOutcome {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  seconds: number;
}

export interface FleetStatus extends ClientStatus {
  perClientCpuUs: number[];
}

export interface Merged {
  histogram: Histogram;
  perSeq: Map<number, SeqStat>;
  bins: Map<number, LatencyBin>;
  frames: number;
  deliveries: number;
  unmatched: number;
  firstReceiptUs: number;
  lastReceiptUs: number;
}

export class Fleet {
  private readonly clients: Array<Child<ClientCommand, ClientReply>> = [];
  private runs = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      this.clients.push(forkBench<ClientCommand, ClientReply>('client', { name: `client ${i}` }));
    }
  }

  get size(): number {
    return this.clients.length;
  }

  get pids(): number[] {
    return this.clients.map((c) => c.pid);
  }

  async connect(
    target: RunningTarget,
    n: number,
    options: { channels: string[]; concurrency: number; ratePerSecond?: number },
  ): Promise<ConnectOutcome> {
    const run = ++this.runs;
    const started = Date.now();
    const per = Math.floor(n / this.clients.length);
    const extra = n % this.clients.length;
    let first = 0;
    const replies = await Promise.all(
      this.clients.map((client, i) => {
        const count = per + (i < extra ? 1 : 0);
        const spec = {
          host: target.host,
          port: target.port,
          path: target.path,
          hostHeader: target.hostHeader,
          origin: target.origin,
          userAgent: undefined,
          first,
          count,
          cookie: target.cookie,
          sessions: target.sessions,
          // 127.<run>.<client>.<k>: source addresses no earlier run used, a few per client so
          // that the kernel's search for a free port per address stays short.
          localAddresses:
            target.host === '127.0.0.1' || target.host === 'localhost'
              ? Array.from(
                  { length: SOURCE_ADDRESSES_PER_CLIENT },
                  (_, k) => `127.${1 + (run % 250)}.${i + 1}.${k + 1}`,
                )
              : [],
          concurrency: Math.max(1, Math.ceil(options.concurrency / this.clients.length)),
          ratePerSecond: (options.ratePerSecond ?? 0) / this.clients.length,
          channels: options.channels,
          timeoutMs: 60_000,
        };
        first += count;
        return client.request({ type: 'connect', spec }, 'connected');
      }),
    );
    const errors: Record<string, number> = {};
    for (const reply of replies)
      for (const [key, value] of Object.entries(reply.errors))
        errors[key] = (errors[key] ?? 0) + value;
    return {
      ok: replies.reduce((sum, r) => sum + r.ok, 0),
      failed: replies.reduce((sum, r) => sum + r.failed, 0),
      errors,
      seconds: (Date.now() - started) / 1000,
    };
  }

  async status(): Promise<FleetStatus> {
    const replies = await Promise.all(
      this.clients.map((c) => c.request({ type: 'status' }, 'status')),
    );
    const total: FleetStatus = {
      open: 0,
      ready: 0,
      frames: 0,
      deliveries: 0,
      closes: {},
      errors: {},
      cpuUs: 0,
      perClientCpuUs: [],
    };
    for (const { status } of replies) {
      total.open += status.open;
      total.ready += status.ready;
      total.frames += status.frames;
      total.deliveries += status.deliveries;
      total.cpuUs += status.cpuUs;
      total.perClientCpuUs.push(status.cpuUs);
      for (const [k, v] of Object.entries(status.closes))
        total.closes[k] = (total.closes[k] ?? 0) + v;
      for (const [k, v] of Object.entries(status.errors))
        total.errors[k] = (total.errors[k] ?? 0) + v;
    }
    return total;
  }

  async reset(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.request({ type: 'reset' }, 'ack')));
  }

  async collect(commits: Map<number, number>, binUs: number, originUs: number): Promise<Merged> {
    const list = [...commits];
    const replies = await Promise.all(
      this.clients.map((c) =>
        c.request({ type: 'collect', commits: list, binUs, originUs }, 'collected'),
      ),
    );
    return mergeCollected(replies.map((r) => r.collected));
  }

  /** From now on the clients reconnect as Odoo's worker does; their open sockets are the storm's. */
  async stormStart(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.request({ type: 'storm-start' }, 'ack')));
  }

  async stormStatus(): Promise<StormClientStatus> {
    const replies = await Promise.all(
      this.clients.map((c) => c.request({ type: 'storm-status' }, 'storm-status')),
    );
    return mergeStormStatus(replies.map((r) => r.status));
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.request({ type: 'close' }, 'ack', 60_000)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop()));
  }
}

export function mergeCollected(parts: readonly Collected[]): Merged {
  const merged: Merged = {
    histogram: new Histogram(),
    perSeq: new Map(),
    bins: new Map(),
    frames: 0,
    deliveries: 0,
    unmatched: 0,
    firstReceiptUs: Number.POSITIVE_INFINITY,
    lastReceiptUs: 0,
  };
  for (const part of parts) {
    merged.histogram.merge(part.histogram);
    merged.frames += part.frames;
    merged.deliveries += part.deliveries;
    merged.unmatched += part.unmatched;
    if (part.deliveries > 0) {
      merged.firstReceiptUs = Math.min(merged.firstReceiptUs, part.firstReceiptUs);
      merged.lastReceiptUs = Math.max(merged.lastReceiptUs, part.lastReceiptUs);
    }
    for (const stat of part.perSeq) {
      const known = merged.perSeq.get(stat.seq);
      if (!known) merged.perSeq.set(stat.seq, { ...stat });
      else {
        known.count += stat.count;
        known.firstUs = Math.min(known.firstUs, stat.firstUs);
        known.lastUs = Math.max(known.lastUs, stat.lastUs);
      }
    }
    for (const [key, bin] of Object.entries(part.bins)) {
      const index = Number(key);
      const known = merged.bins.get(index);
      if (!known) merged.bins.set(index, { ...bin });
      else {
        known.count += bin.count;
        known.sumUs += bin.sumUs;
        known.maxUs = Math.max(known.maxUs, bin.maxUs);
      }
    }
  }
  if (merged.deliveries === 0) merged.firstReceiptUs = 0;
  return merged;
}
