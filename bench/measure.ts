/**
 * One measurement of one target with N sockets, in phases:
 *
 * 1. baseline: the server's RSS before any socket;
 * 2. connect: N clients over the fleet, each subscribing to the shared channel (and, with bench
 *    sessions, getting its own partner channel from Odoo);
 * 3. ready: notifications on the shared channel until every socket has received one (a subscribe
 *    is only complete once Odoo answered it);
 * 4. idle: after a settle time, RSS again: (idle − baseline) / N is the memory per idle socket;
 * 5. bursts: one notification at a time to all N sockets; commit-to-receipt latency of every
 *    delivery and, per notification, the time from its commit to its last receipt;
 * 6. sustained: notifications at a fixed rate on the shared channel (plus private ones to random
 *    sockets) for a while — or, for the reference, write loops back to back — then a drain:
 *    deliveries and socket writes per second, latency over time (a growing backlog shows as rising
 *    latency), CPU per 1,000 deliveries, reads of `bus_bus` per notification.
 */
import { sleep } from '../test/helpers/waitFor.js';
import type { Fleet, Merged } from './fleet.js';
import { median } from './histogram.js';
import type { MemoryBreakdown } from './inspector.js';
import {
  openFileLimit,
  openFiles,
  type ProcessSample,
  rssOf,
  sampleProcess,
  sampleProcesses,
} from './proc.js';
import { nowUs } from './protocol.js';
import type { StormResult } from './stormRun.js';
import type { RunningTarget } from './targets.js';

export interface MeasureOptions {
  n: number;
  bursts: number;
  burstGapMs: number;
  rate: number;
  privateRate: number;
  durationSeconds: number;
  settleMs: number;
  sharedChannel: string;
  connectConcurrency: number;
  /** Sockets connected per second at most, over all clients (0: no pacing). */
  connectRate: number;
  heapSnapshot: boolean;
  /** Idle memory is read (without a forced GC first) this long after the last connect. */
  steadyAfterConnectMs: number;
  /** Wait before reading PostgreSQL's counters (scan counts are reported late without pg_stat_statements). */
  statsFlushMs: number;
  /** How long subscribes may take to be complete (a real Odoo answers each one). */
  readyTimeoutMs: number;
  log: (line: string) => void;
}

export interface Percentiles {
  p50: number | undefined;
  p99: number | undefined;
  max: number | undefined;
}

export interface RunResult {
  target: string;
  kind: RunningTarget['kind'];
  n: number;
  connect: {
    ok: number;
    failed: number;
    errors: Record<string, number>;
    seconds: number;
    ready: number;
    readySeconds: number;
  };
  limits: { serverOpenFiles: number | undefined; openFileLimit: number | undefined };
  memory: {
    baselineRssBytes: number | undefined;
    idleRssBytes: number | undefined;
    /** After a full garbage collection (when the target can be asked for one). */
    rssPerSocketBytes: number | undefined;
    /** Before it: what connection setup left behind included. */
    rssPerSocketUncollectedBytes: number | undefined;
    heapUsedBytes: number | undefined;
    /** Sockets open when idle memory was read (what RSS per socket divides by). */
    openSockets?: number;
    /** Where the RSS is before any socket, at steady state (before the forced GC), and after it. */
    breakdownBaseline?: MemoryBreakdown | undefined;
    breakdownSteady?: MemoryBreakdown | undefined;
    breakdownCollected?: MemoryBreakdown | undefined;
    /** Each process of a target made of several, at idle (after the full GC; `before`: before). */
    perProcess?: Array<{
      name: string;
      pid: number;
      sockets: number | undefined;
      rssBytes: number;
      rssBeforeGcBytes: number;
      openFiles: number;
    }>;
  };
  burst: {
    notifications: number;
    delivered: number;
    expected: number;
    latencyMs: Percentiles;
    /** Per notification: commit → last receipt. */
    lastReceiptMs: { median: number | undefined; max: number | undefined; all: number[] };
    busReads: number | undefined;
    busReadsPerNotification: number | undefined;
    cpuSeconds: number | undefined;
    cpuPer1000Deliveries?: number | undefined;
    /** The writer's own delay from COMMIT to NOTIFY (part of every latency, not the target's). */
    notifyDelayMs: number | undefined;
    /** Reference only: the server's write loop over all N sockets (median). */
    writeLoopMs: number | undefined;
    /** CPU the load generator used per burst, all client processes together. */
    clientCpuSecondsPerBurst: number;
  };
  sustained:
    | {
        mode: 'rate' | 'flood';
        seconds: number;
        sharedNotifications: number;
        privateNotifications: number;
        offeredDeliveriesPerSecond: number | undefined;
        expected: number;
        deliveries: number;
        frames: number;
        deliveriesPerSecond: number;
        framesPerSecond: number;
        /** Reference only: writes per second as the write loop itself counted them. */
        serverWritesPerSecond: number | undefined;
        notificationsPerFrame: number | undefined;
        latencyMs: Percentiles;
        drainMs: number | undefined;
        /** Mean latency per second of commit time: flat when there is no backlog. */
        meanLatencyBySecondMs: number[];
        cpuSeconds: number | undefined;
        cpuPer1000Deliveries: number | undefined;
        busReads: number | undefined;
        busReadsPerNotification: number | undefined;
        writesPerSocketPerRead: number | undefined;
        writerSkipped: number;
        clientCpuShare: number[];
      }
    | undefined;
  pgConnections: Record<string, number> | undefined;
  closes: Record<string, number>;
  clientErrors: Record<string, number>;
  /** Restarts of the sidecar with the sockets coming back (`--storm`), after the phases above. */
  storms?: StormResult[];
}

let sequence = 0;

const ms = (us: number | undefined) => (us === undefined ? undefined : us / 1000);

function percentiles(merged: Merged): Percentiles {
  return {
    p50: ms(merged.histogram.quantile(0.5)),
    p99: ms(merged.histogram.quantile(0.99)),
    max: ms(merged.histogram.total === 0 ? undefined : merged.histogram.max),
  };
}

async function waitUntil(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

function heapUsed(metrics: string | undefined): number | undefined {
  if (metrics === undefined) return undefined;
  const match = /^odoo_bus_sidecar_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(
    metrics,
  );
  return match ? Number(match[1]) : undefined;
}

export async function measure(
  target: RunningTarget,
  fleet: Fleet,
  o: MeasureOptions,
): Promise<RunResult> {
  const listed = await target.processes?.();
  const sample = (): ProcessSample | undefined =>
    listed !== undefined
      ? sampleProcesses(listed.map((p) => p.pid))
      : target.pid === undefined
        ? undefined
        : sampleProcess(target.pid, target.withChildren);
  const { log } = o;

  // 1-2. baseline and connect
  await sleep(1000);
  await target.collectGarbage?.();
  await sleep(500);
  const baseline = sample();
  const breakdownBaseline = await target.memoryBreakdown?.();
  if (breakdownBaseline) log(`  before any socket: ${describeBreakdown(breakdownBaseline)}`);
  log(`  connecting ${o.n} sockets`);
  const connect = await fleet.connect(target, o.n, {
    channels: [o.sharedChannel],
    concurrency: o.connectConcurrency,
    ratePerSecond: o.connectRate,
  });
  log(
    `  ${connect.ok} connected in ${connect.seconds.toFixed(1)} s` +
      (connect.failed > 0 ? `, ${connect.failed} failed ${JSON.stringify(connect.errors)}` : ''),
  );

  // 3. ready: every socket has received a notification of the shared channel
  await fleet.reset();
  const readyStarted = Date.now();
  let ready = 0;
  for (;;) {
    await target.publishShared(++sequence);
    await waitUntil(
      async () => {
        const status = await fleet.status();
        ready = status.ready;
        // A socket the server closed (e.g. 1013 when Odoo could not answer in time) never will be.
        return ready >= connect.ok || ready >= status.open;
      },
      2000,
      50,
    );
    const { open } = await fleet.status();
    if (ready >= connect.ok || ready >= open || Date.now() - readyStarted > o.readyTimeoutMs) break;
  }
  const readySeconds = (Date.now() - readyStarted) / 1000;
  log(`  ${ready} ready in ${readySeconds.toFixed(1)} s`);

  // 4. idle memory: as it settles by itself (what an admin sees in `top`, steadyAfterConnectMs
  // after the last connect), then after a full garbage collection
  const connectEnded = readyStarted;
  await sleep(Math.max(o.settleMs, o.steadyAfterConnectMs - (Date.now() - connectEnded)));
  const idleUncollected = sample();
  // Sockets the server closed meanwhile (e.g. 1013) hold nothing any more: per socket still open.
  const openAtIdle = (await fleet.status()).open;
  const breakdownSteady = await target.memoryBreakdown?.();
  if (breakdownSteady) log(`  steady: ${describeBreakdown(breakdownSteady)}`);
  if (o.steadyAfterConnectMs > 0)
    log(
      `  steady RSS ${((idleUncollected?.rssBytes ?? 0) / 2 ** 20).toFixed(1)} MiB, ${(((idleUncollected?.rssBytes ?? 0) - (baseline?.rssBytes ?? 0)) / Math.max(1, openAtIdle) / 1024).toFixed(1)} KB per open socket (${openAtIdle} open)`,
    );
  const beforeGc = new Map(listed?.map((p) => [p.pid, rssOf(p.pid)]));
  await target.collectGarbage?.();
  await sleep(500);
  const idle = sample();
  const breakdownCollected = await target.memoryBreakdown?.();
  if (breakdownCollected) log(`  after GC: ${describeBreakdown(breakdownCollected)}`);
  const perProcess = (await target.processes?.())?.map((p) => ({
    name: p.name,
    pid: p.pid,
    sockets: p.sockets,
    rssBytes: rssOf(p.pid),
    rssBeforeGcBytes: beforeGc.get(p.pid) ?? 0,
    openFiles: openFiles(p.pid),
  }));
  const serverOpenFiles =
    listed !== undefined
      ? Math.max(...listed.map((p) => openFiles(p.pid)))
      : target.pid === undefined
        ? undefined
        : openFilesOf(target);
  const heap = heapUsed(await target.metricsText?.().catch(() => undefined));
  if (o.heapSnapshot && target.heapSnapshot) {
    log('  heap snapshot');
    await target.heapSnapshot();
  }

  // 5. bursts
  await fleet.reset();
  const burstReads0 = await target.busReads?.();
  const burstCpu0 = sample();
  const burstCommits = new Map<number, number>();
  const burstSeqs: number[] = [];
  target.notifyDelaysUs?.splice(0);
  target.loopDurationsUs?.splice(0);
  const burstClients0 = await fleet.status();
  for (let i = 0; i < o.bursts; i++) {
    const seq = ++sequence;
    burstSeqs.push(seq);
    burstCommits.set(seq, await target.publishShared(seq));
    await waitUntil(async () => (await fleet.status()).deliveries >= (i + 1) * ready, 30_000);
    await sleep(o.burstGapMs);
  }
  const burstCpu1 = sample();
  await sleep(o.statsFlushMs);
  const burstReads1 = await target.busReads?.();
  const burstClients1 = await fleet.status();
  const burst = await fleet.collect(burstCommits, 1e6, 0);
  const lastReceipt = burstSeqs.map((seq) => {
    const stat = burst.perSeq.get(seq);
    const committed = burstCommits.get(seq) as number;
    return stat ? (stat.lastUs - committed) / 1000 : Number.NaN;
  });
  const finite = lastReceipt.filter(Number.isFinite);
  const burstReads =
    burstReads0 === undefined || burstReads1 === undefined ? undefined : burstReads1 - burstReads0;
  log(
    `  bursts: last receipt median ${median(finite)?.toFixed(1)} ms, p50 ${ms(burst.histogram.quantile(0.5))?.toFixed(1)} ms, ${burst.deliveries}/${o.bursts * ready} delivered`,
  );

  // 6. sustained
  const sustained =
    target.flood !== undefined
      ? await flood(target, fleet, o, sample)
      : o.rate > 0 || o.privateRate > 0
        ? await sustain(target, fleet, o, sample, ready)
        : undefined;
  const pgConnections = await target.pgConnections?.();
  const status = await fleet.status();
  const limitPid = target.pid ?? listed?.[0]?.pid;
  return {
    target: target.label,
    kind: target.kind,
    n: o.n,
    connect: { ...connect, ready, readySeconds },
    limits: {
      serverOpenFiles,
      openFileLimit: limitPid === undefined ? undefined : openFileLimit(limitPid),
    },
    memory: {
      baselineRssBytes: baseline?.rssBytes,
      idleRssBytes: idle?.rssBytes,
      // Per open socket: one whose subscribe failed still holds its memory.
      rssPerSocketBytes:
        baseline && idle && openAtIdle > 0
          ? (idle.rssBytes - baseline.rssBytes) / openAtIdle
          : undefined,
      rssPerSocketUncollectedBytes:
        baseline && idleUncollected && openAtIdle > 0
          ? (idleUncollected.rssBytes - baseline.rssBytes) / openAtIdle
          : undefined,
      openSockets: openAtIdle,
      heapUsedBytes: heap,
      breakdownBaseline,
      breakdownSteady,
      breakdownCollected,
      ...(perProcess === undefined ? {} : { perProcess }),
    },
    burst: {
      notifications: o.bursts,
      delivered: burst.deliveries,
      expected: o.bursts * ready,
      latencyMs: percentiles(burst),
      lastReceiptMs: {
        median: median(finite),
        max: finite.length > 0 ? Math.max(...finite) : undefined,
        all: lastReceipt,
      },
      busReads: burstReads,
      busReadsPerNotification: burstReads === undefined ? undefined : burstReads / o.bursts,
      cpuSeconds: burstCpu0 && burstCpu1 ? burstCpu1.cpuSeconds - burstCpu0.cpuSeconds : undefined,
      cpuPer1000Deliveries:
        burstCpu0 && burstCpu1 && burst.deliveries > 0
          ? ((burstCpu1.cpuSeconds - burstCpu0.cpuSeconds) / burst.deliveries) * 1000
          : undefined,
      notifyDelayMs: ms(median(target.notifyDelaysUs ?? [])),
      writeLoopMs: ms(median(target.loopDurationsUs ?? [])),
      clientCpuSecondsPerBurst: (burstClients1.cpuUs - burstClients0.cpuUs) / 1e6 / o.bursts,
    },
    sustained,
    pgConnections,
    closes: status.closes,
    clientErrors: status.errors,
  };
}

function describeBreakdown(b: MemoryBreakdown): string {
  const mib = (bytes: number | undefined) => ((bytes ?? 0) / 2 ** 20).toFixed(1);
  const space = (name: string) =>
    `${name.replace('_space', '')} ${mib(b.spaces[name]?.used)}/${mib(b.spaces[name]?.committed)}`;
  return (
    `rss ${mib(b.rss)} MiB, heap used/total ${mib(b.heapUsed)}/${mib(b.heapTotal)}, ` +
    `${['new_space', 'old_space', 'code_space', 'large_object_space'].map(space).join(', ')}, ` +
    `external ${mib(b.external)} (array buffers ${mib(b.arrayBuffers)})`
  );
}

function openFilesOf(target: RunningTarget): number | undefined {
  if (target.pid === undefined) return undefined;
  const pids = sampleProcess(target.pid, target.withChildren).pids;
  return Math.max(...pids.map(openFiles));
}

/** From the last commit that reached anyone to the last receipt. */
function drainOf(merged: Merged, commits: Map<number, number>): number | undefined {
  let lastCommit: number | undefined;
  for (const [seq, stat] of merged.perSeq) {
    const committed = commits.get(seq);
    if (
      stat.count > 0 &&
      committed !== undefined &&
      (lastCommit === undefined || committed > lastCommit)
    )
      lastCommit = committed;
  }
  return lastCommit === undefined ? undefined : (merged.lastReceiptUs - lastCommit) / 1000;
}

function meanBySecond(merged: Merged): number[] {
  const seconds = [...merged.bins.keys()].sort((a, b) => a - b);
  return seconds.map((s) => {
    const bin = merged.bins.get(s);
    return bin && bin.count > 0 ? bin.sumUs / bin.count / 1000 : 0;
  });
}

async function drain(fleet: Fleet, expected: number, maxMs: number): Promise<number> {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + maxMs;
  for (;;) {
    const { deliveries } = await fleet.status();
    if (deliveries >= expected) return deliveries;
    if (deliveries !== last) {
      last = deliveries;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 3000) return deliveries;
    if (Date.now() > deadline) return deliveries;
    await sleep(50);
  }
}

async function sustain(
  target: RunningTarget,
  fleet: Fleet,
  o: MeasureOptions,
  sample: () => ProcessSample | undefined,
  ready: number,
): Promise<RunResult['sustained']> {
  const { log } = o;
  log(
    `  sustained: ${o.rate}/s shared + ${target.publishPrivate ? o.privateRate : 0}/s private for ${o.durationSeconds} s`,
  );
  await fleet.reset();
  const reads0 = await target.busReads?.();
  const clients0 = await fleet.status();
  const cpu0 = sample();
  const commits = new Map<number, number>();
  // Open loop: each notification at its scheduled time, whatever the previous ones are doing.
  const events: Array<{ at: number; shared: boolean }> = [];
  const durationUs = o.durationSeconds * 1e6;
  if (o.rate > 0)
    for (let t = 0; t < durationUs; t += 1e6 / o.rate) events.push({ at: t, shared: true });
  if (o.privateRate > 0 && target.publishPrivate)
    for (let t = 0; t < durationUs; t += 1e6 / o.privateRate) events.push({ at: t, shared: false });
  events.sort((a, b) => a.at - b.at);
  const inFlight = new Set<Promise<void>>();
  let shared = 0;
  let privates = 0;
  let skipped = 0;
  const origin = nowUs();
  for (const event of events) {
    const wait = (origin + event.at - nowUs()) / 1000;
    if (wait > 1) await sleep(wait);
    if (inFlight.size >= 32) {
      skipped++;
      continue;
    }
    const seq = ++sequence;
    const publish = event.shared
      ? target.publishShared(seq)
      : (target.publishPrivate as NonNullable<RunningTarget['publishPrivate']>)(
          seq,
          Math.floor(Math.random() * ready),
        );
    if (event.shared) shared++;
    else privates++;
    const done = publish.then(
      (committed) => {
        commits.set(seq, committed);
      },
      () => {
        skipped++;
      },
    );
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  }
  await Promise.all(inFlight);
  const expected = shared * ready + privates;
  const received = await drain(fleet, expected, 120_000);
  const cpu1 = sample();
  await sleep(o.statsFlushMs);
  const reads1 = await target.busReads?.();
  const clients1 = await fleet.status();
  const merged = await fleet.collect(commits, 1e6, origin);
  const windowUs = Math.max(1, merged.lastReceiptUs - origin);
  const reads = reads0 === undefined || reads1 === undefined ? undefined : reads1 - reads0;
  const cpuSeconds = cpu0 && cpu1 ? cpu1.cpuSeconds - cpu0.cpuSeconds : undefined;
  const wall = (nowUs() - origin) / 1e6;
  log(
    `  sustained: ${received}/${expected} delivered, ${(merged.deliveries / (windowUs / 1e6)).toFixed(0)} deliveries/s, ${(merged.frames / (windowUs / 1e6)).toFixed(0)} frames/s, p99 ${ms(merged.histogram.quantile(0.99))?.toFixed(1)} ms`,
  );
  return {
    mode: 'rate',
    seconds: o.durationSeconds,
    sharedNotifications: shared,
    privateNotifications: privates,
    offeredDeliveriesPerSecond: (shared * ready + privates) / o.durationSeconds,
    expected,
    deliveries: merged.deliveries,
    frames: merged.frames,
    deliveriesPerSecond: merged.deliveries / (windowUs / 1e6),
    framesPerSecond: merged.frames / (windowUs / 1e6),
    serverWritesPerSecond: undefined,
    notificationsPerFrame: merged.frames > 0 ? merged.deliveries / merged.frames : undefined,
    latencyMs: percentiles(merged),
    drainMs: drainOf(merged, commits),
    meanLatencyBySecondMs: meanBySecond(merged),
    cpuSeconds,
    cpuPer1000Deliveries:
      cpuSeconds !== undefined && merged.deliveries > 0
        ? (cpuSeconds / merged.deliveries) * 1000
        : undefined,
    busReads: reads,
    busReadsPerNotification: reads === undefined ? undefined : reads / (shared + privates),
    writesPerSocketPerRead:
      reads === undefined || reads === 0 ? undefined : merged.frames / (reads * ready),
    writerSkipped: skipped,
    clientCpuShare: clients1.perClientCpuUs.map(
      (us, i) => (us - (clients0.perClientCpuUs[i] ?? 0)) / 1e6 / wall,
    ),
  };
}

async function flood(
  target: RunningTarget,
  fleet: Fleet,
  o: MeasureOptions,
  sample: () => ProcessSample | undefined,
): Promise<RunResult['sustained']> {
  const { log } = o;
  log(`  flood: write loops back to back for ${o.durationSeconds} s`);
  await fleet.reset();
  const clients0 = await fleet.status();
  const cpu0 = sample();
  const firstSeq = sequence + 1;
  const origin = nowUs();
  const result = await (target.flood as NonNullable<RunningTarget['flood']>)(
    firstSeq,
    o.durationSeconds * 1000,
  );
  sequence += result.starts.length;
  const received = await drain(fleet, result.writes, 120_000);
  const cpu1 = sample();
  const clients1 = await fleet.status();
  const wall = (nowUs() - origin) / 1e6;
  const commits = new Map(result.starts);
  const merged = await fleet.collect(commits, 1e6, origin);
  const windowUs = Math.max(1, merged.lastReceiptUs - origin);
  const cpuSeconds = cpu0 && cpu1 ? cpu1.cpuSeconds - cpu0.cpuSeconds : result.cpuUs / 1e6;
  log(
    `  flood: ${result.writes} writes in ${(result.elapsedUs / 1e6).toFixed(1)} s = ${(result.writes / (result.elapsedUs / 1e6)).toFixed(0)} writes/s, ${received} received`,
  );
  return {
    mode: 'flood',
    seconds: result.elapsedUs / 1e6,
    sharedNotifications: result.starts.length,
    privateNotifications: 0,
    offeredDeliveriesPerSecond: undefined,
    expected: result.writes,
    deliveries: merged.deliveries,
    frames: merged.frames,
    deliveriesPerSecond: merged.deliveries / (windowUs / 1e6),
    framesPerSecond: merged.frames / (windowUs / 1e6),
    serverWritesPerSecond: result.writes / (result.elapsedUs / 1e6),
    notificationsPerFrame: merged.frames > 0 ? merged.deliveries / merged.frames : undefined,
    latencyMs: percentiles(merged),
    drainMs: drainOf(merged, commits),
    meanLatencyBySecondMs: meanBySecond(merged),
    cpuSeconds,
    cpuPer1000Deliveries: result.writes > 0 ? (cpuSeconds / result.writes) * 1000 : undefined,
    busReads: undefined,
    busReadsPerNotification: undefined,
    writesPerSocketPerRead: undefined,
    writerSkipped: 0,
    clientCpuShare: clients1.perClientCpuUs.map(
      (us, i) => (us - (clients0.perClientCpuUs[i] ?? 0)) / 1e6 / wall,
    ),
  };
}

export function nextSequence(): number {
  return sequence;
}
