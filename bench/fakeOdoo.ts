/**
 * The Odoo HTTP routes the sidecar calls, at benchmark scale, as its own process: answers in
 * microseconds and keeps connections alive, so that tens of thousands of subscribes are limited by
 * the sidecar, never by the fake. The answers have the shapes of the harness's recorded fake
 * (`test/helpers/fakeOdoo/fakeOdoo.ts`); the channel list is Odoo's for a logged-in user: `broadcast`, the
 * session's partner (`partnerOfSid`), and one `[db, name]` per channel string the client sent.
 * No catch-up rows: the benchmark's sockets subscribe before anything is written.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pythonDumps } from '../src/json/pythonJson.js';
import { type FakeOdooCommand, type FakeOdooReply, partnerOfSid } from './protocol.js';

const database = process.env.BENCH_DB ?? 'bench';
const host = process.env.BENCH_HOST ?? '127.0.0.1';
let peeks = 0;

function sessionOf(request: IncomingMessage): string | undefined {
  const cookie = request.headers.cookie ?? '';
  const match = /(?:^|;\s*)session_id=([0-9a-f]{40})/.exec(cookie);
  return match?.[1];
}

function answer(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

function rpcResult(id: unknown, result: string): string {
  return `{"jsonrpc": "2.0", "id": ${JSON.stringify(id ?? null)}, "result": ${result}}`;
}

function handle(request: IncomingMessage, response: ServerResponse, raw: string): void {
  let body: { id?: unknown; params?: { channels?: unknown } };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    answer(response, 400, '"Invalid JSON data"');
    return;
  }
  switch (request.url) {
    case '/websocket/peek_notifications': {
      peeks++;
      const sid = sessionOf(request);
      const channels: unknown[] = [[database, 'broadcast']];
      if (sid !== undefined) channels.push([database, 'res.partner', partnerOfSid(sid)]);
      const requested = Array.isArray(body.params?.channels) ? body.params.channels : [];
      for (const name of requested) if (typeof name === 'string') channels.push([database, name]);
      const list = pythonDumps(channels, { compact: false, ensureAscii: false });
      answer(response, 200, rpcResult(body.id, `{"channels": ${list}, "notifications": []}`));
      return;
    }
    case '/websocket/update_bus_presence':
      answer(response, 200, rpcResult(body.id, '{}'));
      return;
    case '/websocket/on_closed':
      answer(response, 200, rpcResult(body.id, 'null'));
      return;
    // The sidecar asks it at start and every `infoRefreshSeconds`: readiness needs Odoo to answer.
    case '/web/webclient/version_info':
      answer(
        response,
        200,
        rpcResult(
          body.id,
          '{"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""], "server_serie": "17.0", "protocol_version": 1}',
        ),
      );
      return;
    default:
      answer(response, 404, '{}');
  }
}

const server = createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => handle(request, response, Buffer.concat(chunks).toString('utf8')));
});
server.keepAliveTimeout = 60_000;
server.listen(0, host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  send({ type: 'listening', port });
});

function send(reply: FakeOdooReply): void {
  process.send?.(reply);
}

process.on('message', (command: FakeOdooCommand) => {
  if (command.type === 'counts') send({ type: 'counts', peeks });
  else process.exit(0);
});
process.on('disconnect', () => process.exit(0));
