/**
 * One load-generator process: opens its share of the websocket clients from its own source
 * addresses, subscribes each like Odoo's worker does, and records every notification it receives
 * (sequence number and receipt time) until the orchestrator collects them. Run by `run.ts` through
 * `fork`; it holds fewer sockets than the 20,000 open files a process may have on the build machines.
 *
 * Receipts are kept raw (two typed arrays) and turned into latencies only at `collect`, when the
 * orchestrator hands over the commit time of every sequence number: nothing is computed per frame
 * but one `JSON.parse`.
 */
import { connect, type Socket } from 'node:net';
import {
  maskedFrame,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  ServerFrameReader,
  upgradeRequest,
} from './clientFrames.js';
import { Histogram } from './histogram.js';
import {
  benchSid,
  type ClientCommand,
  type ClientReply,
  type ClientStatus,
  type Collected,
  type ConnectSpec,
  type LatencyBin,
  nowUs,
  type SeqStat,
} from './protocol.js';
import {
  INITIAL_RECONNECT_DELAY_MS,
  nextReconnectDelay,
  reconnectsAfter,
  type StormClientStatus,
} from './storm.js';

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

class Receipts {
  seqs = new Int32Array(1 << 16);
  times = new Float64Array(1 << 16);
  length = 0;

  add(seq: number, at: number): void {
    if (this.length === this.seqs.length) {
      const seqs = new Int32Array(this.seqs.length * 2);
      seqs.set(this.seqs);
      this.seqs = seqs;
      const times = new Float64Array(this.times.length * 2);
      times.set(this.times);
      this.times = times;
    }
    this.seqs[this.length] = seq;
    this.times[this.length] = at;
    this.length++;
  }

  clear(): void {
    this.length = 0;
    if (this.seqs.length > 1 << 20) {
      this.seqs = new Int32Array(1 << 16);
      this.times = new Float64Array(1 << 16);
    }
  }
}

const receipts = new Receipts();
let open = 0;
let frames = 0;
let deliveries = 0;
let readyCount = 0;
const closes: Record<string, number> = {};
const errors: Record<string, number> = {};

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/**
 * One browser tab: its successive connections. Once a storm began, a tab whose connection ends
 * opens a new one as Odoo's websocket worker does (retry delay ×1.5 plus jitter, back to the first
 * delay once open) and subscribes again from the last notification id it received.
 */
class Tab {
  current: BenchSocket | undefined;
  lastId = 0;
  delayMs = INITIAL_RECONNECT_DELAY_MS;
  inStorm = false;
  /** The connection the storm began with: only a later one counts as back. */
  stormGeneration = 0;
  resubscribedAtUs: number | undefined;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly index: number,
    readonly localAddress: string | undefined,
  ) {}

  /** The connection ended after its upgrade, with the close code received (1006: none). */
  lost(code: number): void {
    if (storm.active) count(storm.closes, String(code));
    if (!reconnecting || !reconnectsAfter(code)) return;
    this.retryLater();
  }

  retryLater(): void {
    this.delayMs = nextReconnectDelay(this.delayMs, Math.random());
    this.timer = setTimeout(() => this.attempt(), this.delayMs);
  }

  private attempt(): void {
    this.timer = undefined;
    if (!reconnecting || spec === undefined) return;
    if (storm.active) storm.attempts++;
    openConnection(spec, this, (ok, reason) => {
      if (ok) {
        this.delayMs = INITIAL_RECONNECT_DELAY_MS;
        return;
      }
      if (storm.active) count(storm.handshakeErrors, reason ?? 'failed');
      if (reconnecting) this.retryLater();
    });
  }

  /** A notification arrived on a connection other than the one the storm began with. */
  received(on: BenchSocket): void {
    if (this.inStorm && this.resubscribedAtUs === undefined && on.generation > this.stormGeneration)
      this.resubscribedAtUs = nowUs();
  }
}

class BenchSocket {
  private readonly reader = new ServerFrameReader();
  private head: Buffer | undefined = Buffer.alloc(0);
  ready = false;
  connected = false;
  upgraded = false;
  closeCode: number | undefined;

  constructor(
    readonly socket: Socket,
    readonly tab: Tab,
    /** 0: the first connection of the tab; more: reconnections. */
    readonly generation: number,
    private readonly onUpgrade: (ok: boolean, reason?: string) => void,
  ) {}

  data(chunk: Buffer): void {
    if (this.head !== undefined) {
      const head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      const end = head.indexOf(HEADER_END);
      if (end < 0) {
        // `chunk` is a view of the process's one read buffer: keep a copy.
        this.head = Buffer.from(head);
        return;
      }
      this.head = undefined;
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const status = Number(statusLine.split(' ')[1]);
      if (status !== 101) {
        this.onUpgrade(false, `http-${status}`);
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.onUpgrade(true);
      this.socket.write(subscribeFrame(this.tab.lastId));
      const rest = head.subarray(end + 4);
      if (rest.length === 0) return;
      chunk = rest;
    }
    const at = nowUs();
    this.reader.push(chunk, (opcode, payload) => this.frame(opcode, payload, at));
  }

  private frame(opcode: number, payload: Buffer, at: number): void {
    if (opcode === OP_TEXT) {
      frames++;
      const found = scanSequences(payload, at);
      if (found === 0) count(errors, 'frame-without-bench-notification');
      deliveries += found;
      const id = lastNotificationId(payload);
      if (id > this.tab.lastId) this.tab.lastId = id;
      this.tab.received(this);
      if (!this.ready) {
        this.ready = true;
        readyCount++;
      }
    } else if (opcode === OP_PING) {
      this.socket.write(maskedFrame(OP_PONG, Buffer.from(payload)));
    } else if (opcode === OP_CLOSE) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      count(closes, String(code));
      this.closeCode = code;
      this.socket.destroy();
    }
  }
}

const ID_KEY = Buffer.from('"id":', 'latin1');

/** The largest notification `id` of a frame (Odoo's worker keeps the last one to resubscribe). */
function lastNotificationId(payload: Buffer): number {
  let last = 0;
  let position = payload.indexOf(ID_KEY);
  while (position >= 0) {
    let i = position + ID_KEY.length;
    while (payload[i] === 0x20) i++;
    let id = 0;
    for (let c = payload[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = payload[++i])
      id = id * 10 + (c - 0x30);
    if (id > last) last = id;
    position = payload.indexOf(ID_KEY, i);
  }
  return last;
}

const SEQ_KEY = Buffer.from('"s":', 'latin1');

/**
 * Records the `s` of every bench notification in a frame without parsing the JSON: the key `"s":`
 * only occurs in the benchmark's payloads (`{"s": <seq>, "t": <µs>}`), compact as the sidecar passes
 * stored text through, or with a space as Odoo's own worker re-serializes it.
 */
function scanSequences(payload: Buffer, at: number): number {
  let found = 0;
  let position = payload.indexOf(SEQ_KEY);
  while (position >= 0) {
    let i = position + SEQ_KEY.length;
    while (payload[i] === 0x20) i++;
    let seq = 0;
    let digits = 0;
    for (let c = payload[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = payload[++i]) {
      seq = seq * 10 + (c - 0x30);
      digits++;
    }
    if (digits > 0) {
      receipts.add(seq, at);
      found++;
    }
    position = payload.indexOf(SEQ_KEY, i);
  }
  return found;
}

function send(reply: ClientReply): void {
  process.send?.(reply);
}

/** The spec of the last `connect`: reconnections go to the same server with the same cookies. */
let spec: ConnectSpec | undefined;
let reconnecting = false;
const tabs: Tab[] = [];
const storm = {
  active: false,
  attempts: 0,
  handshakeErrors: {} as Record<string, number>,
  closes: {} as Record<string, number>,
};

function subscribeFrame(last: number): Buffer {
  const channels = spec?.channels ?? [];
  return maskedFrame(
    OP_TEXT,
    Buffer.from(JSON.stringify({ event_name: 'subscribe', data: { channels, last } })),
  );
}

/** Opens one connection of `tab`; `settle` says once whether its upgrade succeeded. */
function openConnection(
  spec: ConnectSpec,
  tab: Tab,
  onSettled: (ok: boolean, reason?: string) => void,
): void {
  const generation = tab.current === undefined ? 0 : tab.current.generation + 1;
  // `onread` hands reads over in one shared buffer, without a stream 'data' event each.
  let bench: BenchSocket | undefined;
  const socket = connect({
    host: spec.host,
    port: spec.port,
    localAddress: tab.localAddress,
    onread: {
      buffer: READ_BUFFER,
      callback: (length: number, buffer: Uint8Array) => {
        bench?.data(Buffer.from(buffer.buffer, buffer.byteOffset, length));
        return true;
      },
    },
  });
  socket.setNoDelay(true);
  let settled = false;
  const timer = setTimeout(() => settle(false, 'handshake-timeout'), spec.timeoutMs);
  const settle = (success: boolean, reason?: string) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (!success) socket.destroy();
    onSettled(success, reason);
  };
  const cookie =
    spec.cookie ??
    `session_id=${spec.sessions ? spec.sessions[tab.index % spec.sessions.length] : benchSid(tab.index)}`;
  const created = new BenchSocket(socket, tab, generation, settle);
  bench = created;
  tab.current = created;
  socket.once('connect', () => {
    open++;
    created.connected = true;
    socket.write(
      upgradeRequest({
        host: spec.hostHeader,
        path: spec.path,
        origin: spec.origin,
        cookie,
        userAgent: spec.userAgent,
      }),
    );
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    count(errors, error.code ?? 'error');
    settle(false, error.code ?? 'error');
  });
  socket.on('close', () => {
    if (created.connected) open--;
    created.connected = false;
    settle(false, 'closed-during-handshake');
    if (created.upgraded && tab.current === created) tab.lost(created.closeCode ?? 1006);
  });
}

function connectAll(connectSpec: ConnectSpec): Promise<ClientReply> {
  spec = connectSpec;
  const started = nowUs();
  const connectErrors: Record<string, number> = {};
  let next = 0;
  let done = 0;
  let ok = 0;
  return new Promise((resolve) => {
    const finish = () => {
      resolve({
        type: 'connected',
        ok,
        failed: connectSpec.count - ok,
        errors: connectErrors,
        ms: (nowUs() - started) / 1000,
      });
    };
    if (connectSpec.count === 0) {
      finish();
      return;
    }
    // Paced like users arriving: handshake k starts no earlier than k / ratePerSecond.
    let scheduled = 0;
    const pace = (start: () => void) => {
      if (connectSpec.ratePerSecond <= 0) return start();
      const due = started / 1000 + (scheduled++ * 1000) / connectSpec.ratePerSecond;
      const wait = due - nowUs() / 1000;
      if (wait <= 0) return start();
      setTimeout(start, wait);
    };
    const startOne = () => pace(openOne);
    const openOne = () => {
      if (next >= connectSpec.count) return;
      const local = next++;
      const tab = new Tab(
        connectSpec.first + local,
        connectSpec.localAddresses[local % connectSpec.localAddresses.length],
      );
      tabs.push(tab);
      openConnection(connectSpec, tab, (success, reason) => {
        done++;
        if (success) ok++;
        else count(connectErrors, reason ?? 'failed');
        if (done === connectSpec.count) finish();
        else startOne();
      });
    };
    for (let i = 0; i < Math.min(connectSpec.concurrency, connectSpec.count); i++) startOne();
  });
}

function stormStart(): void {
  reconnecting = true;
  storm.active = true;
  storm.attempts = 0;
  storm.handshakeErrors = {};
  storm.closes = {};
  for (const tab of tabs) {
    tab.inStorm = tab.current?.upgraded === true && tab.current.connected;
    tab.stormGeneration = tab.current?.generation ?? 0;
    tab.resubscribedAtUs = undefined;
  }
}

function stormStatus(): StormClientStatus {
  const resubscribedAtUs: number[] = [];
  let sockets = 0;
  for (const tab of tabs) {
    if (!tab.inStorm) continue;
    sockets++;
    if (tab.resubscribedAtUs !== undefined) resubscribedAtUs.push(tab.resubscribedAtUs);
  }
  return {
    sockets,
    resubscribed: resubscribedAtUs.length,
    resubscribedAtUs,
    attempts: storm.attempts,
    handshakeErrors: storm.handshakeErrors,
    closes: storm.closes,
  };
}

function status(): ClientStatus {
  const cpu = process.cpuUsage();
  return {
    open,
    ready: readyCount,
    frames,
    deliveries,
    closes,
    errors,
    cpuUs: cpu.user + cpu.system,
  };
}

function reset(): void {
  receipts.clear();
  frames = 0;
  deliveries = 0;
  readyCount = 0;
  for (const tab of tabs) if (tab.current) tab.current.ready = false;
}

function collect(commits: Array<[number, number]>, binUs: number, originUs: number): Collected {
  const commitOf = new Map(commits);
  const histogram = new Histogram();
  const perSeq = new Map<number, SeqStat>();
  const bins: Record<number, LatencyBin> = {};
  let unmatched = 0;
  let firstReceiptUs = Number.POSITIVE_INFINITY;
  let lastReceiptUs = 0;
  for (let i = 0; i < receipts.length; i++) {
    const seq = receipts.seqs[i] as number;
    const at = receipts.times[i] as number;
    if (at < firstReceiptUs) firstReceiptUs = at;
    if (at > lastReceiptUs) lastReceiptUs = at;
    let stat = perSeq.get(seq);
    if (!stat) {
      stat = { seq, count: 0, firstUs: at, lastUs: at };
      perSeq.set(seq, stat);
    }
    stat.count++;
    if (at < stat.firstUs) stat.firstUs = at;
    if (at > stat.lastUs) stat.lastUs = at;
    const committed = commitOf.get(seq);
    if (committed === undefined) {
      unmatched++;
      continue;
    }
    const latency = at - committed;
    histogram.record(latency);
    const bin = Math.floor((committed - originUs) / binUs);
    let entry = bins[bin];
    if (!entry) {
      entry = { count: 0, sumUs: 0, maxUs: 0 };
      bins[bin] = entry;
    }
    entry.count++;
    entry.sumUs += latency;
    if (latency > entry.maxUs) entry.maxUs = latency;
  }
  return {
    histogram: histogram.toJSON(),
    perSeq: [...perSeq.values()],
    bins,
    frames,
    deliveries,
    unmatched,
    firstReceiptUs: receipts.length === 0 ? 0 : firstReceiptUs,
    lastReceiptUs,
  };
}

async function closeAll(): Promise<void> {
  reconnecting = false;
  storm.active = false;
  for (const tab of tabs) {
    clearTimeout(tab.timer);
    tab.current?.socket.destroy();
  }
  tabs.length = 0;
  const deadline = Date.now() + 10_000;
  while (open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  open = 0;
  reset();
}

process.on('message', (command: ClientCommand) => {
  switch (command.type) {
    case 'connect':
      void connectAll(command.spec).then(send);
      return;
    case 'status':
      send({ type: 'status', status: status() });
      return;
    case 'reset':
      reset();
      send({ type: 'ack' });
      return;
    case 'collect':
      send({
        type: 'collected',
        collected: collect(command.commits, command.binUs, command.originUs),
      });
      return;
    case 'close':
      void closeAll().then(() => send({ type: 'ack' }));
      return;
    case 'storm-start':
      stormStart();
      send({ type: 'ack' });
      return;
    case 'storm-status':
      send({ type: 'storm-status', status: stormStatus() });
      return;
    case 'exit':
      reconnecting = false;
      for (const tab of tabs) tab.current?.socket.destroy();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
