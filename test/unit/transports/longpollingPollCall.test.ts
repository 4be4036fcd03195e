/**
 * One poll call, up to what it may be answered with at once: a real HTTP request (Fastify's
 * `inject`), a fake Odoo and a fake reader whose rows the test places before or while Odoo is
 * asked.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReaderView } from '../../../src/bus/readerView.js';
import { RecentRows } from '../../../src/bus/recentRows.js';
import type { BusRow } from '../../../src/bus/types.js';
import { ConnectionCaps } from '../../../src/capacity/connectionCaps.js';
import { SubscriptionBudget } from '../../../src/capacity/subscriptionBudget.js';
import { configFrom } from '../../../src/config/load.js';
import { member, parseJson } from '../../../src/json/rawJson.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import type { RpcOutcome } from '../../../src/odoo/client.js';
import { sessionHash } from '../../../src/odoo/sessionHash.js';
import { ProxyTrust } from '../../../src/transports/clientIdentity.js';
import type { TransportDependencies } from '../../../src/transports/dependencies.js';
import { type PollCall, PollCaller } from '../../../src/transports/longpolling/pollCall.js';
import { presenceRule } from '../../../src/transports/longpolling/presence.js';
import { PollSessions } from '../../../src/transports/longpolling/sessions.js';

const CHANNEL = '["db","res.partner",3]';
const config = configFrom({});

let now: number;
let app: FastifyInstance;
let calls: PollCall[];
let asked: Array<Record<string, unknown>>;
let signals: AbortSignal[];
let sessions: PollSessions;
let readCount: number;
let recent: RecentRows;
let position: number;
/** What the fake Odoo answers; `during` runs while it is asked. */
let odoo: { outcome: () => RpcOutcome; during: (reply: FastifyReply) => void };
let closing: boolean;
let major: number | undefined;
let caps: ConnectionCaps;
let onCall: () => void = () => {};
/** The reply of the request in flight. */
let current: FastifyReply | undefined;

/** A row the reader reads now (after the ones before it). */
function read(id: number, late = false): BusRow {
  readCount++;
  const row = { id, channel: CHANNEL, message: `{"n":${id}}`, readAt: now, seq: readCount, late };
  recent.add([row], now);
  position = Math.max(position, id);
  return row;
}

/** The addon's answer, as a running Odoo 15.0 writes it. */
function answer(ids: number[], extra = ''): RpcOutcome {
  const items = ids.map((id) => `{"id": ${id}, "message": {"n": ${id}}}`).join(', ');
  const text = `{"jsonrpc": "2.0", "id": 1, "result": {"db": "db", "channels": [["db", "res.partner", 3]], "notifications": [${items}], "version": 15${extra}}}`;
  const result = member(parseJson(text), 'result');
  if (result === undefined) throw new Error('no result');
  return {
    kind: 'result',
    text,
    result,
    cut: undefined,
    newSessionId: undefined,
    setCookie: ['session_id=s1; Path=/'],
    sessionCookie: undefined,
  };
}

function dependencies(): TransportDependencies {
  const reader = {
    ready: async () => {},
    readSince: (afterSeq: number, afterId: number, channels: ReadonlySet<string>) =>
      recent.readSince(afterSeq, afterId, channels),
    missedBelow: () => [],
    get position() {
      return position;
    },
    get readCount() {
      return readCount;
    },
    hasHole: () => false,
  } as unknown as ReaderView;
  const deps = {
    config,
    metrics: createMetrics({ defaultMetrics: false }),
    readers: {
      readCounts: () => new Map([['db', readCount]]),
      reader: () => reader,
      existingReader: () => reader,
    },
    odoo: {
      rpc: async (_route: string, params: Record<string, unknown>, ...rest: unknown[]) => {
        asked.push(params);
        signals.push(rest[1] as AbortSignal);
        if (current !== undefined) odoo.during(current);
        return odoo.outcome();
      },
    },
    proxyTrust: new ProxyTrust(false, []),
    servesDatabase: (db: string) => db === 'db',
    odooMajor: () => major,
    get connections() {
      return caps;
    },
    subscriptions: new SubscriptionBudget(1_000_000, 1_000_000),
    clock: () => now,
  };
  return deps as unknown as TransportDependencies;
}

async function poll(
  params: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): Promise<PollCall> {
  const before = calls.length;
  const handled = new Promise<void>((resolve) => {
    onCall = resolve;
  });
  // A browser that leaves ends the request before the handler does.
  await app
    .inject({
      method: 'POST',
      url: '/longpolling/poll',
      headers: { 'content-type': contentType, ...headers },
      payload: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params }),
    })
    .catch(() => undefined);
  await handled;
  const call = calls[before];
  if (call === undefined) throw new Error('no call');
  return call;
}

function acceptedOf(call: PollCall): Extract<PollCall, { kind: 'accepted' }> {
  if (call.kind !== 'accepted') throw new Error(`not accepted: ${call.kind}`);
  return call;
}

beforeEach(async () => {
  now = 1_000_000;
  calls = [];
  asked = [];
  signals = [];
  readCount = 0;
  position = 0;
  recent = new RecentRows(config.recentRowsSeconds * 1000, 50_000, () => now);
  odoo = { outcome: () => answer([]), during: () => {} };
  closing = false;
  major = 15;
  caps = new ConnectionCaps(100, 100);
  sessions = new PollSessions(config.recentRowsSeconds * 1000);
  const log = createLogger('silent');
  const caller = new PollCaller(dependencies(), sessions, presenceRule(60_000), log);
  app = Fastify();
  // The body is read as the server reads it, whatever its content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, next) => next(null, body));
  app.post('/longpolling/poll', async (request, reply) => {
    current = reply;
    calls.push(await caller.call(request, reply, closing));
    current = undefined;
    onCall();
    return reply.send('{}');
  });
  await app.ready();
});
afterEach(async () => {
  await app.close();
});

describe('a poll call', () => {
  it('leaves to Odoo what is not a poll, and every poll of Odoo 16+', async () => {
    expect((await poll({}, {}, 'text/plain')).kind).toBe('forward');
    major = 16;
    expect((await poll({ channels: [], last: 0 })).kind).toBe('forward');
    expect(asked).toEqual([]);
  });

  it('is refused without asking Odoo while the sidecar stops, or over a connection cap', async () => {
    closing = true;
    const stopping = await poll({ channels: [], last: 0 });
    expect(stopping.kind === 'refused' && stopping.error).toContain('The bus is restarting.');
    closing = false;
    caps = new ConnectionCaps(0, 0);
    const full = await poll({ channels: [], last: 0 });
    expect(full.kind === 'refused' && full.error).toContain('Too many connections');
    expect(asked).toEqual([]);
  });

  it("hands Odoo's own error and cookie to the browser", async () => {
    const text = '{"jsonrpc": "2.0", "id": 1, "error": {"code": 200, "message": "no"}}';
    odoo.outcome = () => ({
      kind: 'rpcError',
      code: 200,
      name: undefined,
      message: 'no',
      text,
      setCookie: ['session_id=s2'],
    });
    const call = await poll({ channels: [1], last: 0 });
    expect(call).toEqual({
      kind: 'refused',
      id: '1',
      error: '{"code": 200, "message": "no"}',
      version: 15,
      setCookie: ['session_id=s2'],
    });
  });

  it('is refused for a database this sidecar does not serve', async () => {
    const outcome = answer([]);
    odoo.outcome = () =>
      outcome.kind === 'result'
        ? { ...outcome, ...reparsed(outcome.text.replace('"db": "db"', '"db": "other"')) }
        : outcome;
    const call = await poll({ channels: [], last: 0 });
    expect(call.kind === 'refused' && call.error).toContain('not served by the bus sidecar');
  });

  it('holds a poll with nothing to deliver, on the channels Odoo granted', async () => {
    read(4);
    const call = acceptedOf(await poll({ channels: ['x'], last: 4 }));
    expect(call.deliverable).toEqual({ kind: 'rows', rows: [] });
    expect(call.holdMs).toBe(config.longpollingTimeoutSeconds * 1000);
    expect(call.poll).toMatchObject({ db: 'db', last: 4, version: 15, id: '1' });
    expect([...call.poll.keys]).toEqual([CHANNEL]);
    expect(call.poll.setCookie).toEqual(['session_id=s1; Path=/']);
    expect(asked).toEqual([{ channels: ['x'], last: 4 }]);
  });

  it("answers Odoo's catch-up with the rows read while Odoo was asked, each once", async () => {
    read(3); // read before the call: Odoo's catch-up reflects it
    odoo.during = () => {
      read(5); // Odoo's catch-up carries it too
      read(6);
    };
    odoo.outcome = () => answer([3, 5]);
    const call = acceptedOf(await poll({ channels: [], last: 2 }));
    expect(call.deliverable.kind).toBe('catchUp');
    if (call.deliverable.kind !== 'catchUp') return;
    expect(call.deliverable.odoo.map((n) => n.id)).toEqual([3, 5]);
    expect(call.deliverable.rows.map((r) => r.id)).toEqual([6]);
  });

  it('answers the rows read while Odoo was asked when its catch-up is empty', async () => {
    odoo.during = () => read(7);
    const call = acceptedOf(await poll({ channels: [], last: 6 }));
    expect(call.deliverable).toMatchObject({ kind: 'rows', rows: [{ id: 7 }] });
  });

  it("remembers catch-up ids the reader has not read yet, so that the reader's copy is not sent again", async () => {
    read(5);
    odoo.outcome = () => answer([5, 8]);
    const cookie = { cookie: 'session_id=abc' };
    acceptedOf(await poll({ channels: [], last: 4 }, cookie));
    const { handOff } = sessions.get(sessionHash('abc'), now);
    expect(handOff?.accepts(8)).toBe(false);
    expect(handOff?.accepts(5)).toBe(true);
  });

  it('continuing a poll answered here: late rows read since, below `last`, and no others', async () => {
    read(3);
    const cookie = { cookie: 'session_id=abc' };
    const memory = sessions.get(sessionHash('abc'), now);
    // Its previous poll was answered once the reader had read 3.
    memory.db = 'db';
    memory.seq = readCount;
    read(2, true);
    read(4); // in order, below `last`: left out, as Odoo's own poll would
    read(6);
    const call = acceptedOf(await poll({ channels: [], last: 5 }, cookie));
    expect(call.deliverable).toMatchObject({ kind: 'rows', rows: [{ id: 2 }, { id: 6 }] });
    // A browser this sidecar has no memory of gets only what Odoo's poll would.
    const first = acceptedOf(await poll({ channels: [], last: 5 }));
    expect(first.deliverable).toEqual({ kind: 'rows', rows: [] });
  });

  it("passes Odoo's answer on as it is for a peek, or a `last` that is not an id", async () => {
    odoo.outcome = () => answer([3]);
    const peek = acceptedOf(await poll({ channels: [], last: 0, options: { peek: true } }));
    expect(peek.deliverable).toEqual({
      kind: 'odoo',
      payload:
        '{"notifications": [{"id": 3, "message": {"n": 3}}], "channels": [["db", "res.partner", 3]]}',
    });
    const odd = acceptedOf(await poll({ channels: [], last: 'x' }));
    expect(odd.deliverable).toEqual({ kind: 'odoo', payload: '[{"id": 3, "message": {"n": 3}}]' });
  });

  it('is aborted when the browser leaves while Odoo is asked, and leaves its queue', async () => {
    odoo.during = (reply) => reply.raw.emit('close');
    const call = await poll({ channels: [], last: 0 });
    expect(call.kind).toBe('aborted');
    expect(signals.at(-1)?.aborted).toBe(true);
  });
});

function reparsed(text: string): { text: string; result: NonNullable<ReturnType<typeof member>> } {
  const result = member(parseJson(text), 'result');
  if (result === undefined) throw new Error('no result');
  return { text, result };
}
