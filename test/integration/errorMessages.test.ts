/**
 * Errors say what to do, once. A permanent database error (wrong password, missing database, missing
 * role, no password) is one error line naming the setting and the fix, then quiet retries with
 * backoff, no stack traces, and "could not connect" rather than "connection lost". Odoo down is one
 * warning per change of state, not a line per attempt. A 404 from the addon's route says the addon
 * is not loaded and how to load it. A proxy that does not pass the browser's host (nginx's header
 * inheritance) is one warning naming the Origin and the host compared. The sidecar runs as a real
 * process on a real PostgreSQL and PgBouncer (transaction mode), behind the repo's nginx config.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFO_ROUTE } from '../../src/odoo/addonContract.js';
import { connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { notFound } from '../helpers/fakeOdoo/fakeOdooResponses.js';
import { atLeast } from '../helpers/logSink.js';
import { PRODUCTION_NGINX_CONFIG, startNginx } from '../helpers/servers/nginx.js';
import { type SidecarProcess, withSidecarProcess } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

interface LogLine {
  level: string;
  msg: string;
  component?: string;
  [field: string]: unknown;
}

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

function logLines(sidecar: SidecarProcess): LogLine[] {
  return sidecar.output
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

async function metric(sidecar: SidecarProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => pattern.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
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

describe('a permanent database error', () => {
  it.each([
    [
      'a wrong password',
      { dbPassword: 'wrong' },
      /password authentication failed.*set DB_PASSWORD or db_password/,
    ],
    [
      'no password',
      { dbPassword: undefined },
      /asks role "bus_sidecar" for a password.*set DB_PASSWORD or db_password/,
    ],
    [
      'a missing role',
      { dbUser: 'ghost' },
      /role "ghost".*set DB_PASSWORD or db_password.*DB_USER or db_user/,
    ],
    [
      'a missing database',
      { notifyDatabase: 'no_such_db' },
      /database "no_such_db" does not exist.*set SIDECAR_NOTIFY_DB or db_system/,
    ],
  ])(
    '%s: one error line with the fix, then quiet retries without stack traces',
    async (_name, settings, fix) => {
      await withSidecar(settings, async (sidecar) => {
        await waitFor(
          async () => (await metric(sidecar, /^odoo_bus_sidecar_listener_reconnects_total/)) >= 4,
          {
            timeoutMs: 30_000,
            message: 'four LISTEN attempts',
          },
        );
        const lines = logLines(sidecar);
        const listener = lines.filter(
          (line) => line.component === 'listener' && atLeast(line, 'warn'),
        );
        expect(listener.map((line) => line.msg)).toHaveLength(1);
        expect(listener[0]?.level).toBe('error');
        expect(listener[0]?.msg).toMatch(/^LISTEN connection: could not connect: /);
        expect(listener[0]?.msg).toMatch(fix);
        // The readiness check of the reads says it once too.
        expect(
          lines.filter((line) => line.component === 'read-check' && atLeast(line, 'warn')),
        ).toHaveLength(1);
        const text = sidecar.output.join('');
        expect(text).not.toContain('connection lost');
        expect(text).not.toContain('"stack"');
        expect(text).not.toContain('reconnect scheduled');
        const ready = await fetch(`${sidecar.adminUrl}/readyz`);
        expect(ready.status).toBe(503);
        const { problems } = (await ready.json()) as { problems: Record<string, string[]> };
        expect(Object.values(problems).flat().join('\n')).toMatch(fix);
      });
    },
    60_000,
  );
});

describe('Odoo down', () => {
  it('is one warning when it stops answering and one line when it is back, whatever the attempts', async () => {
    const versionInfoCalls =
      /^odoo_bus_sidecar_odoo_calls_total\{route="\/web\/webclient\/version_info"/;
    await withSidecar({ odooUrl: stack.odoo.url, infoRefreshSeconds: 1 }, async (sidecar) => {
      await waitFor(async () => (await fetch(`${sidecar.adminUrl}/readyz`)).status === 200);
      await stack.odoo.setMode('down');
      try {
        const before = await metric(sidecar, versionInfoCalls);
        await waitFor(async () => (await metric(sidecar, versionInfoCalls)) >= before + 4, {
          timeoutMs: 30_000,
          message: 'four attempts while Odoo is down',
        });
      } finally {
        await stack.odoo.setMode('ok');
      }
      await waitFor(() => sidecar.output.join('').includes('Odoo answers again'), {
        timeoutMs: 20_000,
      });
      const about = logLines(sidecar).filter((line) =>
        ['odoo', 'odoo-info'].includes(line.component ?? ''),
      );
      const warnings = about.filter((line) => atLeast(line, 'warn'));
      expect(warnings.map((line) => line.msg)).toHaveLength(1);
      expect(warnings[0]?.msg).toMatch(
        /^Odoo does not answer at http:\/\/127\.0\.0\.1:\d+ .*SIDECAR_ODOO_URL/,
      );
      expect(about.filter((line) => line.msg.startsWith('Odoo answers again'))).toHaveLength(1);
    });
  }, 60_000);
});

describe("the addon's route answering 404", () => {
  it('says once that the addon is not loaded, and how to load it', async () => {
    stack.odoo.route('GET', INFO_ROUTE, () => notFound());
    try {
      await withSidecar({ secret: stack.odoo.secret, infoRefreshSeconds: 1 }, async (sidecar) => {
        const before = stack.odoo.callsTo(INFO_ROUTE).length;
        await waitFor(() => stack.odoo.callsTo(INFO_ROUTE).length >= before + 4, {
          timeoutMs: 30_000,
          message: 'four questions to the info route',
        });
        const errors = logLines(sidecar).filter((line) => atLeast(line, 'warn'));
        expect(errors.map((line) => line.msg)).toHaveLength(1);
        expect(errors[0]?.msg).toMatch(
          /bus_sidecar addon is not loaded in Odoo \(GET \/bus_sidecar\/info answered 404\).*server_wide_modules = base,web,bus_sidecar.*--load=base,web,bus_sidecar/,
        );
      });
    } finally {
      stack.odoo.unroute('GET', INFO_ROUTE);
    }
  }, 60_000);
});

/**
 * deploy/nginx.conf as an admin might have written it: the identity headers set once at server
 * level, and `location /websocket` with proxy_set_header lines of its own (Upgrade, Connection),
 * so that nginx drops the server-level ones there.
 */
async function inheritanceMistake(dir: string): Promise<string> {
  const text = await readFile(PRODUCTION_NGINX_CONFIG, 'utf8');
  const start = text.indexOf('location /websocket {');
  const end = text.indexOf('\n    }', start);
  const identity =
    /^\s*proxy_set_header (Host|X-Forwarded-Host|X-Forwarded-For|X-Forwarded-Proto|X-Real-IP) .*\n/gm;
  const location = text.slice(start, end).replace(identity, '');
  const serverLevel = [
    '    proxy_set_header Host $http_host;',
    '    proxy_set_header X-Forwarded-Host $http_host;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '',
  ].join('\n');
  const broken = `${text.slice(0, start)}${location}${text.slice(end)}`.replace(
    '    client_max_body_size 128m;\n',
    `    client_max_body_size 128m;\n${serverLevel}`,
  );
  const path = join(dir, 'nginx.conf');
  await writeFile(path, broken);
  return path;
}

describe('a proxy that does not pass the browser host', () => {
  it("is one warning naming the Origin and the host compared, not a foreign page's info line", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sidecar-nginx-'));
    try {
      await withSidecar({}, async (sidecar) => {
        const nginx = await startNginx({
          sidecar: `127.0.0.1:${sidecar.port}`,
          odoo: new URL(stack.router.url).host,
          configFile: await inheritanceMistake(dir),
          checkBusRouting: false,
        });
        try {
          const origin = nginx.origins[0] as string;
          for (let i = 0; i < 3; i++) {
            const socket = await connectBrowserSocket(`${origin.replace('http', 'ws')}/websocket`, {
              cookie: stack.login().cookie,
              origin,
            });
            await socket.terminate();
          }
          await waitFor(
            async () =>
              (await metric(sidecar, /^odoo_bus_sidecar_ws_cross_origin_downgraded_total/)) === 3,
          );
          // The websocket's warnings only: other components warn at start for their own reasons
          // (e.g. revocations without a shared secret).
          const warnings = logLines(sidecar).filter(
            (line) => atLeast(line, 'warn') && line.component === 'websocket',
          );
          expect(warnings).toHaveLength(1);
          expect(warnings[0]).toMatchObject({
            origin,
            hostCompared: 'sidecar',
            mistake: 'no-host',
          });
          expect(warnings[0]?.msg).toContain(
            `Origin ${origin} is not the host compared, "sidecar"`,
          );
          expect(warnings[0]?.msg).toContain("'proxy_set_header Host $http_host;'");
        } finally {
          await nginx.stop();
        }
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
