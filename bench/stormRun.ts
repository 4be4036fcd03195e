/**
 * The restart storm against a running sidecar (see `storm.ts`): the latency of an ordinary Odoo
 * request is sampled before and during it; the sidecar is signalled and started again; the clients
 * come back as Odoo's worker does while notifications are written on the shared channel, so that a
 * socket shows it is subscribed again by receiving one; the new sidecar's calls to Odoo are read
 * from its metrics once every socket is back.
 */
import { sleep } from '../test/helpers/waitFor.js';
import type { Fleet } from './fleet.js';
import { nowUs } from './protocol.js';
import { counterByLabel, type Spread, spread } from './storm.js';
import type { RunningTarget } from './targets.js';

export type StormKind = 'sigterm' | 'kill';

export interface StormOptions {
  kind: StormKind;
  /** Odoo's HTTP workers, whose `/web/webclient/version_info` is sampled. */
  odooUrl: string;
  sampleEveryMs: number;
  /** Samples before the signal. */
  beforeMs: number;
  /** Notifications on the shared channel during the storm, one every so many ms. */
  publishEveryMs: number;
  timeoutMs: number;
  log: (line: string) => void;
}

export interface StormResult {
  kind: StormKind;
  sockets: number;
  resubscribed: number;
  /** From the signal until every socket (of those open before it) was subscribed again, s. */
  allBackSeconds: number | undefined;
  /** Per socket, from the signal to its resubscription, s. */
  backSeconds: Spread;
  oldExitedSeconds: number;
  newReadySeconds: number;
  attempts: number;
  handshakeErrors: Record<string, number>;
  closes: Record<string, number>;
  /** Calls to Odoo by the new sidecar once every socket was back, by route and by outcome. */
  odooCallsByRoute: Record<string, number>;
  odooCallsByOutcome: Record<string, number>;
  /** `/web/webclient/version_info`, ms: before the signal, and from it until every socket is back. */
  versionInfoBeforeMs: Spread;
  versionInfoDuringMs: Spread;
  versionInfoFailures: number;
}

const ODOO_CALLS = 'odoo_bus_sidecar_odoo_calls_total';

/** An ordinary user's request, sampled on a fixed schedule whatever the previous one is doing. */
function sampleVersionInfo(url: string, everyMs: number) {
  const samples: Array<{ atUs: number; ms: number }> = [];
  let failures = 0;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const one = async () => {
    const started = nowUs();
    try {
      const response = await fetch(`${url}/web/webclient/version_info`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"jsonrpc":"2.0","method":"call","params":{}}',
      });
      await response.text();
      if (!response.ok) failures++;
      else samples.push({ atUs: started, ms: (nowUs() - started) / 1000 });
    } catch {
      failures++;
    }
  };
  const loop = (async () => {
    const origin = Date.now();
    for (let k = 1; !stopped; k++) {
      const request = one();
      inFlight.add(request);
      void request.then(() => inFlight.delete(request));
      await sleep(Math.max(0, origin + k * everyMs - Date.now()));
    }
  })();
  return {
    samples,
    failures: () => failures,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
    },
  };
}

export async function runStorm(
  target: RunningTarget,
  fleet: Fleet,
  o: StormOptions,
): Promise<StormResult> {
  const { log } = o;
  const restart = target.restart;
  if (restart === undefined) throw new Error(`--storm: ${target.label} cannot be restarted`);
  const sampler = sampleVersionInfo(o.odooUrl, o.sampleEveryMs);
  await sleep(o.beforeMs);
  await fleet.stormStart();
  const signalUs = nowUs();
  log(`  storm ${o.kind}: signalling the sidecar`);
  const restarted = restart.call(target, o.kind === 'sigterm' ? 'SIGTERM' : 'SIGKILL');
  let restartTimes: { exitedMs: number; readyMs: number } | undefined;
  let restartError: unknown;
  void restarted.then(
    (times) => {
      restartTimes = times;
    },
    (error: unknown) => {
      restartError = error;
    },
  );
  // A notification every so often: a socket subscribed again receives the next one (or, from its
  // last id, those written while it was away).
  let writing = true;
  let seq = 2_000_000_000 + (Math.floor(signalUs / 1e6) % 1_000_000);
  const writer = (async () => {
    while (writing) {
      await target.publishShared(++seq).catch(() => undefined);
      await sleep(o.publishEveryMs);
    }
  })();
  let status = await fleet.stormStatus();
  let lastLog = Date.now();
  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline && restartError === undefined) {
    status = await fleet.stormStatus();
    if (status.sockets > 0 && status.resubscribed >= status.sockets) break;
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(
        `    ${((nowUs() - signalUs) / 1e6).toFixed(0)} s: ${status.resubscribed}/${status.sockets} back, ${status.attempts} handshakes, errors ${JSON.stringify(status.handshakeErrors)}`,
      );
    }
    await sleep(250);
  }
  const endUs = nowUs();
  await sampler.stop();
  writing = false;
  await writer;
  if (restartError !== undefined) throw restartError;
  const times = restartTimes ?? (await restarted);
  const metrics = (await target.metricsText?.().catch(() => '')) ?? '';
  const back = status.resubscribedAtUs.map((at) => (at - signalUs) / 1e6);
  const complete = status.sockets > 0 && status.resubscribed >= status.sockets;
  const result: StormResult = {
    kind: o.kind,
    sockets: status.sockets,
    resubscribed: status.resubscribed,
    allBackSeconds: complete ? Math.max(...back) : undefined,
    backSeconds: spread(back),
    oldExitedSeconds: times.exitedMs / 1000,
    newReadySeconds: times.readyMs / 1000,
    attempts: status.attempts,
    handshakeErrors: status.handshakeErrors,
    closes: status.closes,
    odooCallsByRoute: counterByLabel(metrics, ODOO_CALLS, 'route'),
    odooCallsByOutcome: counterByLabel(metrics, ODOO_CALLS, 'outcome'),
    versionInfoBeforeMs: spread(sampler.samples.filter((s) => s.atUs < signalUs).map((s) => s.ms)),
    versionInfoDuringMs: spread(
      sampler.samples.filter((s) => s.atUs >= signalUs && s.atUs <= endUs).map((s) => s.ms),
    ),
    versionInfoFailures: sampler.failures(),
  };
  log(`  storm ${o.kind}: ${describeStorm(result)}`);
  return result;
}

export function describeStorm(r: StormResult): string {
  const f = (v: number | undefined, digits = 1) => (v === undefined ? '?' : v.toFixed(digits));
  const calls = Object.values(r.odooCallsByRoute).reduce((a, b) => a + b, 0);
  return (
    `${r.resubscribed}/${r.sockets} subscribed again, all after ${f(r.allBackSeconds)} s ` +
    `(p50 ${f(r.backSeconds.p50)} s, p90 ${f(r.backSeconds.p90)} s); old process exited after ${f(r.oldExitedSeconds)} s, ` +
    `new one ready after ${f(r.newReadySeconds)} s; ${r.attempts} handshakes, errors ${JSON.stringify(r.handshakeErrors)}, ` +
    `closes ${JSON.stringify(r.closes)}; ${calls} calls to Odoo ${JSON.stringify(r.odooCallsByRoute)} ${JSON.stringify(r.odooCallsByOutcome)}; ` +
    `version_info p50/p90/max before ${f(r.versionInfoBeforeMs.p50, 0)}/${f(r.versionInfoBeforeMs.p90, 0)}/${f(r.versionInfoBeforeMs.max, 0)} ms, ` +
    `during ${f(r.versionInfoDuringMs.p50, 0)}/${f(r.versionInfoDuringMs.p90, 0)}/${f(r.versionInfoDuringMs.max, 0)} ms` +
    (r.versionInfoFailures > 0 ? `, ${r.versionInfoFailures} failed` : '')
  );
}
