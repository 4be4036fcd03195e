/**
 * A transparent TCP relay that records the head of the HTTP request opening each connection, put
 * between a proxy and the server behind it: the test sees exactly what the proxy sent on the wire
 * (cookies included, which DevTools does not report for cross-origin websocket handshakes), and
 * the bytes themselves pass unchanged in both directions, upgrades included.
 *
 * Only the first request of a connection is recorded. That is every request from nginx here: the
 * production configuration keeps no upstream connections alive, so each request has its own.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TappedRequest {
  method: string;
  path: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

export interface HttpTap {
  /** `127.0.0.1:<port>`, to give the proxy as the server's address. */
  readonly address: string;
  readonly requests: readonly TappedRequest[];
  close(): Promise<void>;
}

const MAX_HEAD_BYTES = 64 * 1024;

export function parseRequestHead(head: string): TappedRequest {
  const [requestLine = '', ...lines] = head.split('\r\n');
  const [method = '', path = ''] = requestLine.split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { method, path, headers };
}

export async function startHttpTap(target: string): Promise<HttpTap> {
  const [host = '127.0.0.1', port = '0'] = target.split(/:(?=\d+$)/);
  const requests: TappedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    let head: Buffer | undefined = Buffer.alloc(0);
    const record = (chunk: Buffer) => {
      if (head === undefined) return;
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end >= 0) requests.push(parseRequestHead(head.subarray(0, end).toString('latin1')));
      if (end >= 0 || head.length > MAX_HEAD_BYTES) head = undefined;
    };
    client.on('data', record);
    client.pipe(upstream);
    upstream.pipe(client);
    // Either side failing ends both, as a cut connection would.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const tapPort = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    address: `127.0.0.1:${tapPort}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
