/**
 * An HTTP server put in front of a (fake) Odoo that answers some requests with large generated
 * bodies and passes every other request through unchanged. A request asks for its answer with
 * headers, which the sidecar forwards as any end-to-end header:
 * - `X-Test-Answer-Bytes: <n>`: a 200 of `n` bytes, written slice by slice as the connection
 *   takes them (nothing the size of the answer is ever held here);
 * - `X-Test-Chunked: 1`: without `Content-Length` (chunked), else with it;
 * - `X-Test-Gate: <name>`: the first slice is written, the rest only once `open(name)` is called.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { relay } from './odooRouter.js';

const SLICE = Buffer.alloc(1024 * 1024, 0x61);

export interface LargeAnswers {
  readonly url: string;
  /** Lets the answers waiting at gate `name` go on. */
  open(name: string): void;
  close(): Promise<void>;
}

function write(response: ServerResponse, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (response.write(bytes)) resolve();
    else {
      response.once('drain', resolve);
      response.once('close', resolve);
    }
  });
}

export async function startLargeAnswers(behind: string): Promise<LargeAnswers> {
  const target = new URL(behind);
  const gates = new Map<string, { opened: Promise<void>; open: () => void }>();
  const gate = (name: string) => {
    let entry = gates.get(name);
    if (entry === undefined) {
      let open = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      entry = { opened, open };
      gates.set(name, entry);
    }
    return entry;
  };

  async function answer(request: IncomingMessage, response: ServerResponse, size: number) {
    request.resume();
    const chunked = request.headers['x-test-chunked'] === '1';
    response.writeHead(200, {
      'Content-Type': 'application/json',
      ...(chunked ? {} : { 'Content-Length': String(size) }),
    });
    const gateName = request.headers['x-test-gate'];
    let sent = 0;
    while (sent < size && !response.destroyed) {
      const slice = SLICE.subarray(0, Math.min(SLICE.length, size - sent));
      await write(response, slice);
      sent += slice.length;
      if (typeof gateName === 'string' && sent === slice.length) await gate(gateName).opened;
    }
    response.end();
  }

  const server: Server = createServer((request, response) => {
    const size = Number(request.headers['x-test-answer-bytes']);
    if (Number.isSafeInteger(size) && size > 0) {
      void answer(request, response, size);
      return;
    }
    relay(request, response, target.hostname, target.port);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    open: (name) => gate(name).open(),
    close: () =>
      new Promise((resolve) => {
        for (const entry of gates.values()) entry.open();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
