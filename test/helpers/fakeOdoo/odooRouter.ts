/**
 * One Odoo instance serving several databases picks the database from the session. The fake Odoo
 * serves one database each; this router sends every request to the fake that knows the request's
 * session (the first fake for a request without a known session), so one sidecar can be tested
 * against several databases, as in production.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeOdoo } from './fakeOdoo.js';
import { sessionIdFromCookie } from './fakeOdooSessions.js';

export interface OdooRouter {
  readonly url: string;
  close(): Promise<void>;
}

function pick(fakes: readonly FakeOdoo[], request: IncomingMessage): FakeOdoo {
  const sid = sessionIdFromCookie(request.headers.cookie);
  return (sid && fakes.find((fake) => fake.session(sid))) || (fakes[0] as FakeOdoo);
}

/** Passes one request on to `host:port` unchanged, and its answer back. */
export function relay(
  request: IncomingMessage,
  response: ServerResponse,
  host: string,
  port: number | string,
): void {
  const upstream = httpRequest(
    { host, port, method: request.method, path: request.url, headers: request.headers },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
      answer.pipe(response);
    },
  );
  // A server that is down refuses the connection: the caller sees the connection cut, as it would.
  upstream.on('error', () => response.destroy());
  request.pipe(upstream);
}

export async function startOdooRouter(fakes: readonly FakeOdoo[]): Promise<OdooRouter> {
  const server: Server = createServer((request, response) => {
    const target = pick(fakes, request);
    relay(request, response, target.host, target.port);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
