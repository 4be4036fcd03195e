/**
 * Hostile HTTP requests against a real sidecar process: request targets no URL parser agrees on,
 * paths that try to leave the bus routes on the way to Odoo, headers meant for the sidecar alone,
 * bodies and answers too large to hold, and log floods. Each gets Odoo's own answer (werkzeug's
 * pages), is counted in `/metrics`, and leaves the process up and other users served.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFO_ROUTE } from '../../src/odoo/addonContract.js';
import { metricValue, scrapeMetrics } from '../helpers/clients/metricsText.js';
import { handshakeRequest, RawWebSocket } from '../helpers/clients/rawWebSocket.js';
import { type BrowserSocket, connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { type LargeAnswers, startLargeAnswers } from '../helpers/fakeOdoo/largeAnswers.js';
import { readFixture } from '../helpers/fixtures.js';
import { peakResidentBytes, startPeakMeasurement } from '../helpers/processMemory.js';
import { startNginx } from '../helpers/servers/nginx.js';
import { type SidecarProcess, spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const MiB = 1024 * 1024;
/** The default cap on an answer from Odoo (`maxOdooAnswerBytes`). */
const ANSWER_CAP = 64 * MiB;

let stack: Stack;
/** In front of the fake Odoo: answers the requests that ask for large answers itself. */
let large: LargeAnswers;
let sidecar: SidecarProcess;
let base = '';
let bystander: BrowserSocket;

interface RecordedCase {
  name: string;
  response: { body_text: string | null };
}
const recorded17 = readFixture<{ cases: RecordedCase[] }>('odoo17', 'http-routes.json').cases;
const NOT_FOUND_PAGE = recorded17.find((c) => c.name === 'on_closed_admin')?.response.body_text;
const BAD_REQUEST_PAGE = readFixture<{
  scenarios: Array<{ name: string; response_body?: string }>;
}>('odoo17', 'websocket-session.json').scenarios.find(
  (s) => s.name === 'handshake_plain_get_no_upgrade_headers',
)?.response_body;
/** werkzeug's `RequestEntityTooLarge` page (`werkzeug/exceptions.py`, as Odoo renders it). */
const TOO_LARGE_PAGE =
  '<!doctype html>\n<html lang=en>\n<title>413 Request Entity Too Large</title>\n<h1>Request Entity Too Large</h1>\n<p>The data value transmitted exceeds the capacity limit.</p>\n';

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
  large = await startLargeAnswers(stack.router.url);
  sidecar = await spawnSidecar({
    ...sidecarSettings(stack.pg, stack.bouncer, large.url),
    logLevel: 'info',
    // The test clients play the proxy too (loopback, the default trusted proxy): a request with
    // X-Forwarded-Host stands for another client.
    proxyMode: true,
  });
  base = `http://127.0.0.1:${sidecar.port}`;
  bystander = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, {
    cookie: stack.login().cookie,
  });
  bystander.subscribe([], 0);
  await waitFor(() => stack.odoo.callsTo('/websocket/peek_notifications').length > 0);
});
afterAll(async () => {
  await bystander?.close().catch(() => undefined);
  sidecar?.kill('SIGKILL');
  await large?.close();
  await stack?.close();
});

/** What the sidecar asks Odoo on its own, every minute: Odoo's version. */
const OWN_PROBES = new Set(['/web/webclient/version_info', INFO_ROUTE]);

/** The targets Odoo received since call number `before`, the sidecar's own probes left out. */
function targetsSince(before: number): string[] {
  return stack.odoo.calls
    .slice(before)
    .filter((call) => !OWN_PROBES.has(call.path))
    .map((call) => call.target);
}

/** One request written byte for byte (no client library normalises its target). */
async function rawRequest(
  method: string,
  target: string,
  headers: Array<[string, string]> = [],
  body = '',
  port = sidecar.port,
): Promise<{ status: number; body: string }> {
  const lines = [
    `${method} ${target} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    ...headers.map(([name, value]) => `${name}: ${value}`),
    ...(body === '' && method === 'GET' ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]),
    'Connection: close',
  ];
  const raw = await RawWebSocket.open('127.0.0.1', port, `${lines.join('\r\n')}\r\n\r\n${body}`);
  raw.destroy();
  const response = raw.response;
  if (response === undefined) throw new Error('no response');
  return { status: response.status, body: response.body.toString('utf8') };
}

/** The process is up and the bystander, subscribed before the attack, still receives. */
async function stillServing(): Promise<void> {
  expect(sidecar.child.exitCode).toBeNull();
  expect((await fetch(`${sidecar.adminUrl}/healthz`)).status).toBe(200);
  const [id] = await stack
    .writer()
    .sendmany([{ channel: 'broadcast', type: 'after-attack', payload: {} }]);
  await bystander.waitForNotification((n) => n.id === id);
  const metrics = await scrapeMetrics(sidecar.adminUrl);
  // The fixes hold at the mechanism: nothing reached the process-wide last resort.
  expect(metricValue(metrics, 'odoo_bus_sidecar_last_resort_errors_total')).toBe(0);
}

describe('malformed upgrade requests', () => {
  it("answers werkzeug's 400 to targets no URL parser agrees on, counts them, and stays up", async () => {
    const targets = ['//websocket:99999', '//[', '//websocket%zz', '/websocket%zz'];
    for (const path of targets) {
      const raw = await RawWebSocket.open(
        '127.0.0.1',
        sidecar.port,
        handshakeRequest({ host: `127.0.0.1:${sidecar.port}`, path, origin: base }),
      );
      raw.destroy();
      expect({ path, status: raw.response?.status }).toEqual({ path, status: 400 });
      expect(raw.response?.body.toString('utf8')).toBe(BAD_REQUEST_PAGE);
    }
    await stillServing();
    const metrics = await scrapeMetrics(sidecar.adminUrl);
    expect(
      metricValue(metrics, 'odoo_bus_sidecar_ws_handshake_rejected_total', {
        reason: 'bad-target',
      }),
    ).toBe(targets.length);
  });

  it('keeps a two-worker process up (the primary used to re-fork into the same death)', async () => {
    const workers = await spawnSidecar({
      ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
      workers: 2,
      // The primary logs every worker that exits.
      logLevel: 'info',
    });
    try {
      const host = `127.0.0.1:${workers.port}`;
      // More requests than workers: each worker gets its share whichever way the kernel spreads them.
      for (let i = 0; i < 6; i++) {
        const raw = await RawWebSocket.open(
          '127.0.0.1',
          workers.port,
          handshakeRequest({ host, path: '//websocket:99999', origin: `http://${host}` }),
        );
        raw.destroy();
        expect(raw.response?.status).toBe(400);
      }
      const socket = await connectBrowserSocket(`ws://${host}/websocket`);
      await socket.terminate();
      expect(workers.output.join('')).not.toContain('worker exited');
    } finally {
      workers.kill('SIGKILL');
      await workers.exited;
    }
    // Three processes start here (the primary and two workers): slow on a loaded machine.
  }, 120_000);
});

describe('forwarding to Odoo', () => {
  const escapes = [
    ['GET', '/websocket/..\\web\\database\\manager'],
    ['GET', '/websocket/%2e%2e/web/database/list'],
    ['POST', '/longpolling/../web/database/list'],
    ['POST', '/websocket/..%2fweb%2fdatabase%2fdrop'],
    ['GET', '/websocket/%2E%2E%5Cweb%5Cdatabase%5Cmanager'],
    ['GET', '/websocket/peek_notifications/../../web/database/manager'],
    ['GET', '/websocket/.%2e/web/database/manager'],
    ['GET', '/longpolling/%252e%252e/web/database/list'],
    ['GET', '/websocket//web/database/manager'],
    ['POST', '/websocket/peek_notifications%00'],
    ['GET', '/websocket/custom_route'],
  ] as const;

  it("answers werkzeug's 404 to every path outside the bus routes, however it is spelled", async () => {
    const callsBefore = stack.odoo.calls.length;
    for (const [method, target] of escapes) {
      const answer = await rawRequest(method, target, [['Content-Type', 'application/json']]);
      expect({ target, status: answer.status }).toEqual({ target, status: 404 });
      expect(answer.body).toBe(NOT_FOUND_PAGE);
    }
    expect(targetsSince(callsBefore)).toEqual([]);
    const metrics = await scrapeMetrics(sidecar.adminUrl);
    expect(
      metricValue(metrics, 'odoo_bus_sidecar_http_refused_total', { reason: 'not-a-bus-route' }),
    ).toBeGreaterThanOrEqual(escapes.length);
    await stillServing();
  });

  it("forwards Odoo's own bus routes, with their query, and Odoo receives nothing else", async () => {
    const callsBefore = stack.odoo.calls.length;
    const { cookie } = stack.login();
    const answer = await rawRequest(
      'POST',
      '/websocket/update_bus_presence?debug=1',
      [
        ['Content-Type', 'application/json'],
        ['Cookie', cookie],
      ],
      JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params: {} }),
    );
    expect(answer.status).toBe(200);
    expect(targetsSince(callsBefore)).toEqual(['/websocket/update_bus_presence?debug=1']);
  });

  it('never passes the shared-secret header, headers named in Connection, or hop-by-hop headers', async () => {
    const callsBefore = stack.odoo.calls.length;
    const answer = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        `${base}/websocket/peek_notifications`,
        {
          method: 'POST',
          agent: false,
          headers: {
            'Content-Type': 'application/json',
            'X-Bus-Sidecar-Secret': 'forged-by-the-browser',
            Connection: 'keep-alive, X-Private-Hop',
            'X-Private-Hop': 'for the next hop only',
            'Keep-Alive': 'timeout=5',
            'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
            'Proxy-Connection': 'keep-alive',
            TE: 'trailers',
            'X-Kept': 'end-to-end',
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', reject);
      request.end(
        JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params: { channels: [] } }),
      );
    });
    expect(answer).toBe(200);
    const [call] = stack.odoo.calls.slice(callsBefore).filter((c) => !OWN_PROBES.has(c.path));
    expect(call?.path).toBe('/websocket/peek_notifications');
    expect(call?.headers['x-kept']).toBe('end-to-end');
    for (const name of [
      'x-bus-sidecar-secret',
      'x-private-hop',
      'keep-alive',
      'proxy-authorization',
      'proxy-connection',
      'te',
    ]) {
      expect({ name, value: call?.headers[name] }).toEqual({ name, value: undefined });
    }
  });
});

describe("forwarding behind the repository's nginx", () => {
  it('a path nginx sends to the sidecar as a bus path reaches Odoo only if it is a bus route', async () => {
    // nginx's own `location /` goes to a stand-in for Odoo's HTTP workers: what reaches the Odoo
    // behind the sidecar then came through the sidecar alone.
    const direct: string[] = [];
    const workers = createServer((request, response) => {
      direct.push(request.url ?? '');
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => workers.listen(0, '127.0.0.1', resolve));
    const nginx = await startNginx({
      sidecar: `127.0.0.1:${sidecar.port}`,
      odoo: `127.0.0.1:${(workers.address() as AddressInfo).port}`,
    });
    try {
      const nginxPort = Number(new URL(nginx.origins[0] as string).port);
      const callsBefore = stack.odoo.calls.length;
      // Backslashes are no separator to nginx: this is a /websocket path to it, passed on as sent.
      for (const target of [
        '/websocket/..\\web\\database\\drop',
        '/longpolling/..\\web\\database\\list',
      ]) {
        const answer = await rawRequest(
          'POST',
          target,
          [['Content-Type', 'application/x-www-form-urlencoded']],
          'name=odoo17&master_pwd=admin',
          nginxPort,
        );
        expect({ target, status: answer.status }).toEqual({ target, status: 404 });
        expect(answer.body).toBe(NOT_FOUND_PAGE);
      }
      expect(targetsSince(callsBefore)).toEqual([]);
      expect(direct).toEqual([]);
      const { cookie } = stack.login();
      const allowed = await rawRequest(
        'POST',
        '/websocket/update_bus_presence',
        [
          ['Content-Type', 'application/json'],
          ['Cookie', cookie],
        ],
        JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params: {} }),
        nginxPort,
      );
      expect(allowed.status).toBe(200);
      expect(targetsSince(callsBefore)).toEqual(['/websocket/update_bus_presence']);
    } finally {
      await nginx.stop();
      await new Promise((resolve) => workers.close(resolve));
    }
  });
});

/** Sends `bytes` of body to a bus route and resolves with the status (or the error that cut it). */
function post(path: string, bytes: number, chunked = false): Promise<number | string> {
  return new Promise((resolve) => {
    const request = httpRequest(
      `${base}${path}`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          ...(chunked ? {} : { 'Content-Length': String(bytes) }),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? 'error'));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const write = (): void => {
      while (sent < bytes) {
        const piece = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
        sent += piece.length;
        if (!request.write(piece)) {
          request.once('drain', write);
          return;
        }
      }
      request.end();
    };
    write();
  });
}

/** Asks for a large answer (see `largeAnswers.ts`) and counts what arrives, or the error that cut it. */
function download(
  headers: Record<string, string>,
  onFirstBytes?: () => void,
): Promise<{ status: number; bytes: number; error?: string }> {
  return new Promise((resolve) => {
    let status = 0;
    let bytes = 0;
    const request = httpRequest(
      `${base}/websocket/update_bus_presence`,
      { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', ...headers } },
      (response) => {
        status = response.statusCode ?? 0;
        response.on('data', (chunk: Buffer) => {
          if (bytes === 0) onFirstBytes?.();
          bytes += chunk.length;
        });
        response.on('end', () => resolve({ status, bytes }));
        response.on('error', (error) => resolve({ status, bytes, error: error.message }));
      },
    );
    request.on('error', (error) => resolve({ status, bytes, error: error.message }));
    request.end('{}');
  });
}

describe('sizes', () => {
  it('refuses bodies over the cap with 413 before Odoo sees them, with memory bounded', async () => {
    const start = await startPeakMeasurement(sidecar.child.pid as number);
    const callsBefore = stack.odoo.calls.length;
    const statuses = await Promise.all(
      Array.from({ length: 100 }, () => post('/websocket/update_bus_presence', 2 * MiB)),
    );
    statuses.push(await post('/websocket/update_bus_presence', 2 * MiB, true));
    // The sidecar may stop reading once it has answered; a client still writing then sees a reset.
    expect(statuses.filter((s) => s !== 413 && s !== 'ECONNRESET' && s !== 'EPIPE')).toEqual([]);
    expect(statuses.filter((s) => s === 413).length).toBeGreaterThan(0);
    expect(targetsSince(callsBefore)).toEqual([]);
    const growth = (await peakResidentBytes(sidecar.child.pid as number)) - start;
    expect(growth).toBeLessThan(64 * MiB);
    const metrics = await scrapeMetrics(sidecar.adminUrl);
    expect(
      metricValue(metrics, 'odoo_bus_sidecar_http_refused_total', { reason: 'body-too-large' }),
    ).toBe(statuses.length);
    const page = await rawRequest(
      'POST',
      '/websocket/update_bus_presence',
      [['Content-Type', 'application/json']],
      ' '.repeat(2 * MiB),
    );
    expect(page).toEqual({ status: 413, body: TOO_LARGE_PAGE });
    await stillServing();
  });

  it('streams answers: the first bytes reach the browser while Odoo still holds the rest', async () => {
    // Odoo sends 1 MiB, then waits until the browser has received something: a sidecar that held
    // answers whole would wait for the rest forever.
    const size = 8 * MiB;
    const result = await download(
      { 'X-Test-Answer-Bytes': String(size), 'X-Test-Gate': 'first-bytes' },
      () => large.open('first-bytes'),
    );
    expect(result).toEqual({ status: 200, bytes: size });
  });

  it('two 60 MiB answers at once pass whole, with memory bounded', async () => {
    const start = await startPeakMeasurement(sidecar.child.pid as number);
    const size = 60 * MiB;
    const results = await Promise.all([
      download({ 'X-Test-Answer-Bytes': String(size) }),
      download({ 'X-Test-Answer-Bytes': String(size), 'X-Test-Chunked': '1' }),
    ]);
    expect(results).toEqual([
      { status: 200, bytes: size },
      { status: 200, bytes: size },
    ]);
    // Held whole they took over 250 MiB; streamed, what stays is garbage the collector has not
    // reached yet, which does not grow with the answers (about 80 MiB for two of 480 MiB).
    const growth = (await peakResidentBytes(sidecar.child.pid as number)) - start;
    expect(growth).toBeLessThan(112 * MiB);
  });

  it('refuses answers over the cap: 502 when Odoo announces the length, cut when it streams past', async () => {
    const before = metricValue(
      await scrapeMetrics(sidecar.adminUrl),
      'odoo_bus_sidecar_http_refused_total',
      {
        reason: 'answer-too-large',
      },
    );
    const size = String(ANSWER_CAP + 4 * MiB);
    const announced = await download({ 'X-Test-Answer-Bytes': size });
    expect(announced.status).toBe(502);
    expect(announced.bytes).toBeLessThan(MiB);
    const streamed = await download({ 'X-Test-Answer-Bytes': size, 'X-Test-Chunked': '1' });
    expect(streamed.status).toBe(200);
    expect(streamed.bytes).toBeLessThanOrEqual(ANSWER_CAP);
    expect(streamed.error).toBeDefined();
    const after = metricValue(
      await scrapeMetrics(sidecar.adminUrl),
      'odoo_bus_sidecar_http_refused_total',
      {
        reason: 'answer-too-large',
      },
    );
    expect(after - before).toBe(2);
    await stillServing();
  });
});

describe('logs', () => {
  it('cap field sizes and rate-limit repeated events per client, while metrics count them all', async () => {
    const metricsBefore = await scrapeMetrics(sidecar.adminUrl);
    const outputBefore = sidecar.output.length;
    const huge = `198.51.100.7${'x'.repeat(15_000)}`;
    const refusals = 40;
    for (let i = 0; i < refusals; i++) {
      const raw = await RawWebSocket.open(
        '127.0.0.1',
        sidecar.port,
        handshakeRequest({
          host: `127.0.0.1:${sidecar.port}`,
          omit: ['Origin'],
          extraHeaders: [['X-Forwarded-For', huge]],
        }),
      );
      raw.destroy();
      expect(raw.response?.status).toBe(400);
    }
    // Sockets of one client from a foreign page: each is served as a public visitor, and logged.
    const chain = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ');
    const foreign = 20;
    for (let i = 0; i < foreign; i++) {
      const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, {
        origin: 'https://elsewhere.example',
        headers: { 'X-Forwarded-For': chain },
      });
      // A line of the socket's own, which names its forwarded chain.
      socket.send('not json');
      await socket.close();
    }
    const metrics = await scrapeMetrics(sidecar.adminUrl);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metricValue(metrics, name, labels) - metricValue(metricsBefore, name, labels);
    expect(
      delta('odoo_bus_sidecar_ws_handshake_rejected_total', { reason: 'missing-header' }),
    ).toBe(refusals);
    expect(delta('odoo_bus_sidecar_ws_cross_origin_downgraded_total')).toBe(foreign);
    // One more refusal from another client, logged after all of the above: once it is read, so is
    // every line before it.
    const marker = await RawWebSocket.open(
      '127.0.0.1',
      sidecar.port,
      handshakeRequest({
        host: `127.0.0.1:${sidecar.port}`,
        path: '/websocket-after-the-flood',
        extraHeaders: [
          ['X-Forwarded-For', '192.0.2.99'],
          ['X-Forwarded-Host', `127.0.0.1:${sidecar.port}`],
        ],
      }),
    );
    marker.destroy();
    await waitFor(() => sidecar.output.join('').includes('/websocket-after-the-flood'));
    const lines = sidecar.output.slice(outputBefore).join('').split('\n').filter(Boolean);
    expect(lines.filter((line) => line.length > 2048)).toEqual([]);
    const refusedLines = lines.filter((line) => line.includes('websocket handshake refused'));
    const foreignLines = lines.filter((line) => line.includes('served as a public visitor'));
    const messageLines = lines.filter((line) => line.includes('websocket message ignored'));
    expect(messageLines.length).toBeGreaterThan(0);
    expect(messageLines.length).toBeLessThanOrEqual(10);
    expect(refusedLines.length).toBeGreaterThan(0);
    expect(refusedLines.length).toBeLessThanOrEqual(10);
    expect(foreignLines.length).toBeGreaterThan(0);
    expect(foreignLines.length).toBeLessThanOrEqual(10);
    expect(delta('odoo_bus_sidecar_log_lines_suppressed_total')).toBeGreaterThan(0);
  });
});
