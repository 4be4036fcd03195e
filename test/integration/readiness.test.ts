/**
 * `/readyz` is true only when delivery works, from start and without waiting for a user's socket:
 * the read path is checked at once (a wrong password on the reads is a 503 naming it), Odoo's
 * answer is checked with or without the addon, a drain answers 503 while the port stays open, and
 * a missing addon with a secret set is "degraded" (ready, the missing feature named), not never
 * ready. The sidecar runs as a real process on a real PostgreSQL and PgBouncer (transaction mode).
 */
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Readiness } from '../../src/observability/health.js';
import { INFO_ROUTE } from '../../src/odoo/addonContract.js';
import {
  type BrowserSocket,
  connectBrowserSocket,
  HandshakeError,
} from '../helpers/clients/wsClient.js';
import { notFound } from '../helpers/fakeOdoo/fakeOdooResponses.js';
import { freePort } from '../helpers/servers/ports.js';
import { SIDECAR_ROLE } from '../helpers/servers/postgres.js';
import { type SidecarProcess, withSidecarProcess } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

async function readyz(sidecar: SidecarProcess): Promise<{ status: number; body: Readiness }> {
  const answer = await fetch(`${sidecar.adminUrl}/readyz`);
  return { status: answer.status, body: (await answer.json()) as Readiness };
}

function withSidecar(
  settings: Record<string, unknown>,
  run: (sidecar: SidecarProcess) => Promise<void>,
): Promise<void> {
  return withSidecarProcess(
    {
      ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
      logLevel: 'info',
      ...settings,
    },
    { waitReady: false },
    run,
  );
}

let authFileVersion = 0;

/** PgBouncer's auth_file with another password for the sidecar's role, as when it is out of date. */
async function setBouncerPassword(password: string): Promise<void> {
  const authFile = join(dirname(stack.bouncer.configFile), 'userlist.txt');
  const text = await readFile(authFile, 'utf8');
  const line = new RegExp(`^"${SIDECAR_ROLE.user}" ".*"$`, 'm');
  await writeFile(authFile, text.replace(line, `"${SIDECAR_ROLE.user}" "${password}"`));
  // PgBouncer re-reads the file on RELOAD only when its modification time changed.
  const changed = new Date(Date.now() + ++authFileVersion * 10_000);
  await utimes(authFile, changed, changed);
  await stack.bouncer.admin('RELOAD');
}

describe('the read path', () => {
  it('is checked at start: reads refused by PgBouncer are a 503 naming them, before any socket', async () => {
    await setBouncerPassword('out-of-date');
    try {
      await withSidecar({}, async (sidecar) => {
        const refused = await waitFor(
          async () => {
            const { status, body } = await readyz(sidecar);
            return body.problems.reads?.some((p) => p.includes('password authentication failed'))
              ? { status, body }
              : undefined;
          },
          { message: '/readyz names the refused reads' },
        );
        expect(refused.status).toBe(503);
        expect(refused.body).toMatchObject({
          ready: false,
          status: 'not ready',
          checks: { listen: true, reads: false, accepting: true },
        });
        expect(refused.body.problems.reads?.join()).toContain('DB_PASSWORD or db_password');
        expect(refused.body.sockets).toBe(0);

        await setBouncerPassword(SIDECAR_ROLE.password);
        await waitFor(async () => (await readyz(sidecar)).status === 200, {
          timeoutMs: 20_000,
          message: 'ready once PgBouncer takes the password',
        });
      });
    } finally {
      await setBouncerPassword(SIDECAR_ROLE.password);
    }
  }, 60_000);
});

/** A TCP relay to the fake Odoo on a port of its own, to take Odoo away and bring it back. */
async function odooRelay(port: number): Promise<{ close(): Promise<void> }> {
  const target = new URL(stack.router.url);
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    open.add(socket).add(upstream);
    const drop = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("Odoo's answer", () => {
  it('without a secret: Odoo down is a 503 naming Odoo; back, ready; gone again, 503', async () => {
    const port = await freePort();
    await withSidecar(
      { odooUrl: `http://127.0.0.1:${port}`, infoRefreshSeconds: 1 },
      async (sidecar) => {
        const down = await waitFor(
          async () => {
            const answer = await readyz(sidecar);
            return answer.body.checks.listen && answer.body.checks.reads && answer;
          },
          { message: 'LISTEN and reads up' },
        );
        expect(down.status).toBe(503);
        expect(down.body.checks.odoo).toBe(false);
        expect(down.body.problems.odoo?.length).toBe(1);

        const relay = await odooRelay(port);
        try {
          await waitFor(async () => (await readyz(sidecar)).status === 200, {
            timeoutMs: 20_000,
            message: 'ready once Odoo answers',
          });
        } finally {
          await relay.close();
        }
        const gone = await waitFor(
          async () => {
            const answer = await readyz(sidecar);
            return answer.status === 503 && answer;
          },
          { timeoutMs: 20_000, message: 'not ready once Odoo is gone' },
        );
        expect(gone.body.checks.odoo).toBe(false);
      },
    );
  }, 60_000);

  it('with a secret and the addon not loaded: ready but degraded, the missing feature named', async () => {
    stack.odoo.route('GET', INFO_ROUTE, () => notFound());
    try {
      await withSidecar({ secret: stack.odoo.secret }, async (sidecar) => {
        const answer = await waitFor(
          async () => {
            const got = await readyz(sidecar);
            return got.status === 200 && got;
          },
          { message: 'ready, although the addon does not answer' },
        );
        expect(answer.body).toMatchObject({
          ready: true,
          status: 'degraded',
          checks: { listen: true, reads: true, odoo: true, accepting: true },
        });
        expect(answer.body.missing.join()).toContain('outdated-version-check');
        expect(answer.body.problems.addon?.join()).toMatch(/not loaded.*server_wide_modules/);
        // And it serves: a user's socket subscribes and receives.
        const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, {
          cookie: stack.login().cookie,
        });
        try {
          const before = stack.odoo.callsTo('/websocket/peek_notifications').length;
          socket.subscribe([], 0);
          await waitFor(() => stack.odoo.callsTo('/websocket/peek_notifications').length > before);
          const [id] = await stack
            .writer()
            .sendmany([{ channel: ['discuss.channel', 1], type: 'degraded', payload: {} }]);
          await socket.waitForNotification((n) => n.id === id);
        } finally {
          await socket.terminate();
        }
      });
    } finally {
      stack.odoo.unroute('GET', INFO_ROUTE);
    }
  }, 60_000);
});

describe('a drain (SIGTERM)', () => {
  it('answers 503 "draining" while it closes sockets, and refuses new ones with 503', async () => {
    await withSidecar(
      { shutdownWindowSeconds: 20, shutdownTimeoutSeconds: 60 },
      async (sidecar) => {
        await waitFor(async () => (await readyz(sidecar)).status === 200, {
          message: 'ready before the drain',
        });
        const url = `ws://127.0.0.1:${sidecar.port}/websocket`;
        // Two sockets: the second is closed half a window after the first, so the drain lasts.
        const sockets: BrowserSocket[] = [
          await connectBrowserSocket(url),
          await connectBrowserSocket(url),
        ];
        try {
          sidecar.kill('SIGTERM');
          await waitFor(() => sidecar.output.join('').includes('shutting down'));
          const draining = await readyz(sidecar);
          expect(draining.status).toBe(503);
          expect(draining.body).toMatchObject({
            ready: false,
            status: 'draining',
            checks: { accepting: false },
          });
          const refused = await connectBrowserSocket(url).then(
            () => undefined,
            (error: unknown) => error,
          );
          expect(refused).toBeInstanceOf(HandshakeError);
          expect((refused as HandshakeError).status).toBe(503);
        } finally {
          await Promise.all(sockets.map((socket) => socket.terminate()));
        }
      },
    );
  }, 60_000);
});
