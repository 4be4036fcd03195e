/**
 * Messages between the orchestrator (`run.ts`) and its child processes (load-generator clients, the
 * reference server, the fake Odoo), over Node's IPC channel. Times are microseconds of the
 * machine's monotonic clock (`nowUs`), which every process on the machine shares, so a commit time
 * taken in the orchestrator and a receipt time taken in a client are comparable.
 */
import type { HistogramData } from './histogram.js';
import type { StormClientStatus } from './storm.js';

/** CLOCK_MONOTONIC in microseconds: the same clock in every process of the machine. */
export function nowUs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e6 + nanoseconds / 1e3;
}

/** The `message` of every notification the benchmark writes: `s` = sequence, `t` = written at. */
export const BENCH_MESSAGE_TYPE = 'bench';

/** The session id of benchmark socket `index`: 40 hex digits, as Odoo's. */
export function benchSid(index: number): string {
  return index.toString(16).padStart(40, '0');
}

/** The partner the bench fake Odoo gives session `sid`. */
export function partnerOfSid(sid: string): number {
  return Number.parseInt(sid.slice(-12), 16) + 1000;
}

export interface ConnectSpec {
  host: string;
  port: number;
  path: string;
  /** `Host` header value. */
  hostHeader: string;
  origin: string;
  userAgent: string | undefined;
  /** Global socket indexes this client opens (each gets `benchSid(index)` unless `cookie`). */
  first: number;
  count: number;
  /** One cookie for every socket (an external Odoo session); default: one session per socket. */
  cookie: string | undefined;
  /** Real Odoo session ids: socket `index` uses `sessions[index % length]` (several tabs each). */
  sessions: string[] | undefined;
  /** Source addresses, used in turn (127.0.0.x: a separate ephemeral port range each). */
  localAddresses: string[];
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Handshakes started per second by this client at most (0: as fast as `concurrency` allows). */
  ratePerSecond: number;
  /** Channel strings sent in `subscribe`. */
  channels: string[];
  timeoutMs: number;
}

export type ClientCommand =
  | { type: 'connect'; spec: ConnectSpec }
  | { type: 'status' }
  | { type: 'reset' }
  | { type: 'collect'; commits: Array<[number, number]>; binUs: number; originUs: number }
  | { type: 'close' }
  /** From now on, sockets come back as Odoo's worker does; the open ones are the storm's. */
  | { type: 'storm-start' }
  | { type: 'storm-status' }
  | { type: 'exit' };

export interface ClientStatus {
  open: number;
  /** Sockets that received at least one notification since the last reset. */
  ready: number;
  frames: number;
  deliveries: number;
  /** Close codes sent by the server, by code. */
  closes: Record<string, number>;
  errors: Record<string, number>;
  cpuUs: number;
}

export interface SeqStat {
  seq: number;
  count: number;
  firstUs: number;
  lastUs: number;
}

/** Per time bin of commit time: how many were received, and their latency sum and maximum. */
export interface LatencyBin {
  count: number;
  sumUs: number;
  maxUs: number;
}

export interface Collected {
  histogram: HistogramData;
  perSeq: SeqStat[];
  bins: Record<number, LatencyBin>;
  frames: number;
  deliveries: number;
  /** Deliveries whose sequence had no known commit time (left out of the histogram). */
  unmatched: number;
  firstReceiptUs: number;
  lastReceiptUs: number;
}

export type ClientReply =
  | { type: 'connected'; ok: number; failed: number; errors: Record<string, number>; ms: number }
  | { type: 'status'; status: ClientStatus }
  | { type: 'collected'; collected: Collected }
  | { type: 'storm-status'; status: StormClientStatus }
  | { type: 'ack' };

export type ReferenceCommand =
  | { type: 'broadcast'; seq: number }
  | { type: 'flood'; firstSeq: number; durationMs: number }
  | { type: 'exit' };

export type ReferenceReply =
  | { type: 'listening'; port: number }
  | { type: 'broadcast'; seq: number; startUs: number; loopUs: number; writes: number }
  | {
      type: 'flood';
      /** [seq, write loop start] of every loop. */
      starts: Array<[number, number]>;
      writes: number;
      elapsedUs: number;
      cpuUs: number;
    };

export type FakeOdooReply = { type: 'listening'; port: number } | { type: 'counts'; peeks: number };
export type FakeOdooCommand = { type: 'counts' } | { type: 'exit' };
