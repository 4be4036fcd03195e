/**
 * Whom the sidecar believes about the client: as Odoo, the `X-Forwarded-*` headers only in proxy
 * mode (`proxy_mode` in odoo.conf, or the setting), and only from the proxies it trusts. A client
 * that reaches the port directly and forges them is not believed, and neither are they passed on to
 * Odoo as if a proxy had said them: Odoo sees the client's real address. Through the repo's nginx,
 * what nginx says is believed. The sidecar runs as a real process on a real PostgreSQL and PgBouncer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall } from '../helpers/clients/httpCall.js';
import { connectBrowserSocket } from '../helpers/clients/wsClient.js';
import type { RecordedCall } from '../helpers/fakeOdoo/fakeOdoo.js';
import { type Nginx, startNginx } from '../helpers/servers/nginx.js';
import { type SidecarProcess, withSidecarProcess } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const FORGED = {
  'X-Forwarded-For': '198.51.100.7',
  'X-Forwarded-Host': 'evil.example',
  'X-Forwarded-Proto': 'https',
  'X-Real-IP': '198.51.100.7',
  Forwarded: 'for=198.51.100.7;host=evil.example;proto=https',
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

/**
 * The client address Odoo takes from a request, as `odoo/http.py` does in proxy mode: werkzeug's
 * ProxyFix with one trusted hop (the last `X-Forwarded-For` entry), applied only when the request
 * has an `X-Forwarded-Host`.
 */
function odooSeesClient(call: RecordedCall, peer = '127.0.0.1'): string {
  const forwardedFor = call.headers['x-forwarded-for'];
  if (call.headers['x-forwarded-host'] === undefined || forwardedFor === undefined) return peer;
  return String(forwardedFor).split(',').at(-1)?.trim() ?? peer;
}

function withSidecar(
  settings: Record<string, unknown>,
  run: (sidecar: SidecarProcess) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  return withSidecarProcess(
    { ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url), ...settings },
    { args },
    run,
  );
}

/** Opens a socket with `headers`, subscribes, and returns Odoo's peek call for it. */
async function peekFor(
  url: string,
  headers: Record<string, string>,
  origin?: string,
): Promise<RecordedCall> {
  const { cookie, sid } = stack.login();
  const socket = await connectBrowserSocket(url, {
    cookie,
    headers,
    ...(origin === undefined ? {} : { origin }),
  });
  try {
    // The session id as a channel string: it finds the peek even when the cookie was dropped.
    socket.subscribe([sid], 0);
    return await waitFor(() =>
      stack.odoo
        .callsTo('/websocket/peek_notifications')
        .find(
          (call) =>
            call.headers.cookie?.includes(sid) ||
            (call.body as { params?: { channels?: string[] } }).params?.channels?.includes(sid),
        ),
    );
  } finally {
    await socket.terminate();
  }
}

function expectNotBelieved(call: RecordedCall, host: string): void {
  expect(odooSeesClient(call)).toBe('127.0.0.1');
  expect(call.headers['x-forwarded-for']).toBe('127.0.0.1');
  expect(call.headers['x-forwarded-host']).toBe(host);
  expect(call.headers['x-forwarded-proto']).toBe('http');
  expect(JSON.stringify(call.headers)).not.toMatch(/198\.51\.100\.7|evil\.example|https/);
}

describe('a client reaching the sidecar directly', () => {
  it('is not believed by default (no proxy mode): Odoo sees its real address and Host', async () => {
    await withSidecar({}, async (sidecar) => {
      const host = `127.0.0.1:${sidecar.port}`;
      expectNotBelieved(await peekFor(`ws://${host}/websocket`, FORGED), host);

      // A forwarded route: the client's own forwarding headers never reach Odoo either.
      const before = stack.odoo.callsTo('/websocket/peek_notifications').length;
      const answer = await httpCall(`http://${host}/websocket/peek_notifications`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...FORGED },
        body: JSON.stringify({
          jsonrpc: '2.0',
          method: 'call',
          id: 7,
          params: { channels: [], last: 0 },
        }),
      });
      expect(answer.status).toBe(200);
      const forwarded = stack.odoo.callsTo('/websocket/peek_notifications').slice(before);
      expect(forwarded).toHaveLength(1);
      expectNotBelieved(forwarded[0] as RecordedCall, host);
      expect(forwarded[0]?.headers['x-real-ip']).toBe('127.0.0.1');
      expect(forwarded[0]?.headers.forwarded).toBeUndefined();
    });
  }, 60_000);

  it('cannot pass a foreign page as same-origin with a forged X-Forwarded-Host', async () => {
    await withSidecar({}, async (sidecar) => {
      // A consistent forgery: the Origin's host and scheme, claimed as the proxy's word.
      const call = await peekFor(
        `ws://127.0.0.1:${sidecar.port}/websocket`,
        { ...FORGED, 'X-Forwarded-Proto': 'http' },
        'http://evil.example',
      );
      // Served as a public visitor: the cookie of the browser is not handed to Odoo.
      expect(call.headers.cookie).toBeUndefined();
    });
  }, 60_000);

  it('in proxy mode, is still not believed when it is not one of the trusted proxies', async () => {
    await withSidecar({ proxyMode: true, trustedProxies: '10.0.0.0/8' }, async (sidecar) => {
      const host = `127.0.0.1:${sidecar.port}`;
      expectNotBelieved(await peekFor(`ws://${host}/websocket`, FORGED), host);
    });
  }, 60_000);
});

describe("through the repo's nginx, with proxy_mode = True in odoo.conf", () => {
  let nginx: Nginx | undefined;
  afterAll(async () => {
    await nginx?.stop();
  });

  it("believes what nginx says, and Odoo sees the client nginx saw, not the client's forgery", async () => {
    const conf = join(mkdtempSync(join(tmpdir(), 'sidecar-conf-')), 'odoo.conf');
    writeFileSync(conf, '[options]\nproxy_mode = True\n');
    await withSidecar(
      {},
      async (sidecar) => {
        nginx = await startNginx({
          sidecar: `127.0.0.1:${sidecar.port}`,
          odoo: new URL(stack.router.url).host,
        });
        const origin = nginx.origins[0] as string;
        const host = new URL(origin).host;
        const call = await peekFor(`${origin.replace('http', 'ws')}/websocket`, FORGED, origin);
        // Same origin as nginx describes it: the browser's cookie went on to Odoo.
        expect(call.headers.cookie).toBeDefined();
        expect(call.headers['x-forwarded-host']).toBe(host);
        expect(call.headers['x-forwarded-proto']).toBe('http');
        // nginx appended the address it saw; Odoo, like the sidecar, takes that last one.
        expect(call.headers['x-forwarded-for']).toBe('198.51.100.7, 127.0.0.1');
        expect(odooSeesClient(call)).toBe('127.0.0.1');
        expect(JSON.stringify(call.headers)).not.toContain('evil.example');
      },
      ['--odoo-config', conf],
    );
  }, 60_000);
});
