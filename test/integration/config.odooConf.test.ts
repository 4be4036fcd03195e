/**
 * The sidecar started on an odoo.conf connects to PostgreSQL as libpq connects Odoo with the same
 * file: `db_host = False` is the local Unix socket with peer authentication (the OS user as role),
 * `db_sslmode` is TLS as libpq understands it (`prefer`, Odoo's default, takes TLS when offered).
 * Real PostgreSQL with TLS on and a pg_hba.conf that lets the sidecar's TCP role in only over TLS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { type FakeOdoo, startFakeOdoo } from '../helpers/fakeOdoo/fakeOdoo.js';
import { createOdooWriter, type OdooWriter } from '../helpers/fakeOdoo/odooWriter.js';
import { handToServiceAccount } from '../helpers/fakeOdoo/serviceAccount.js';
import { type PgCluster, SIDECAR_ROLE, startPostgres } from '../helpers/servers/postgres.js';
import {
  type SidecarProcess,
  spawnSidecar,
  withSidecarProcess,
} from '../helpers/servers/sidecarProcess.js';
import { waitFor } from '../helpers/waitFor.js';

const DB = 'odoo17';
const osUser = userInfo().username;
let pg: PgCluster;
let odoo: FakeOdoo;
let writer: OdooWriter;
let certDir: string;

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

beforeAll(async () => {
  pg = await startPostgres();
  await pg.createOdooDatabase(DB);
  // The OS user as a role, for peer authentication on the Unix socket.
  await pg.query('postgres', `CREATE ROLE "${osUser}" LOGIN`);
  await pg.query(
    DB,
    `GRANT SELECT ON bus_bus TO "${osUser}"; GRANT SELECT, USAGE ON SEQUENCE bus_bus_id_seq TO "${osUser}"`,
  );
  certDir = mkdtempSync(join(tmpdir(), 'sidecar-tls-'));
  const server = selfSigned(certDir, 'server');
  await writeFile(join(pg.dataDir, 'server.crt'), await readFile(server.cert));
  await writeFile(join(pg.dataDir, 'server.key'), await readFile(server.key), { mode: 0o600 });
  await handToServiceAccount(pg.dataDir);
  await writeFile(
    join(pg.dataDir, 'pg_hba.conf'),
    [
      'local all all peer',
      `hostssl all ${SIDECAR_ROLE.user} 127.0.0.1/32 scram-sha-256`,
      `hostnossl all ${SIDECAR_ROLE.user} 127.0.0.1/32 reject`,
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  await pg.query('postgres', "ALTER SYSTEM SET ssl = 'on'");
  await pg.query('postgres', 'SELECT pg_reload_conf()');
  odoo = await startFakeOdoo({ pg, database: DB });
  writer = createOdooWriter({ host: pg.host, port: pg.port, database: DB });
}, 60_000);

afterAll(async () => {
  await writer?.close();
  await odoo?.close();
  await pg?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

function odooConf(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sidecar-conf-')), 'odoo.conf');
  writeFileSync(path, `[options]\n${lines.join('\n')}\nhttp_port = ${new URL(odoo.url).port}\n`);
  return path;
}

/** The sidecar's backends: how each is connected. */
async function sidecarBackends() {
  return pg.query<{ usename: string; via_socket: boolean; ssl: boolean; application_name: string }>(
    'postgres',
    `SELECT a.usename, a.client_addr IS NULL AS via_socket, s.ssl, a.application_name
     FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
     WHERE a.application_name LIKE 'odoo-bus-sidecar%'`,
  );
}

/** Proves the read path: a socket subscribes and gets a row read by the sidecar. */
async function delivers(sidecar: SidecarProcess): Promise<void> {
  const sid = odoo.addSession({ uid: 2, partnerId: 3, memberChannels: [1] });
  const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, {
    cookie: `session_id=${sid}`,
  });
  try {
    const before = odoo.callsTo('/websocket/peek_notifications').length;
    socket.subscribe([], 0);
    await waitFor(() => odoo.callsTo('/websocket/peek_notifications').length > before);
    const [id] = await writer.sendmany([
      { channel: ['discuss.channel', 1], type: 'conf', payload: {} },
    ]);
    await socket.waitForNotification((n) => n.id === id);
  } finally {
    await socket.terminate();
  }
}

function run(conf: string[], env: Record<string, string>, check: () => Promise<void>) {
  return withSidecarProcess(
    { logLevel: 'info' },
    { args: ['--odoo-config', odooConf(conf)], env },
    async (sidecar) => {
      await check();
      await delivers(sidecar);
    },
  );
}

describe("Debian's odoo.conf: db_host = False, db_user = False, db_password = False", () => {
  it('connects on the local Unix socket with peer authentication, as libpq does for Odoo', async () => {
    await run(
      ['db_host = False', `db_port = ${pg.port}`, 'db_user = False', 'db_password = False'],
      // libpq's own way to name the socket directory; Debian's default is /var/run/postgresql.
      { PGHOST: pg.socketDir },
      async () => {
        const backends = await sidecarBackends();
        expect(backends.length).toBeGreaterThan(0);
        for (const backend of backends) {
          expect(backend).toMatchObject({ usename: osUser, via_socket: true, ssl: false });
        }
      },
    );
  }, 60_000);
});

describe('db_sslmode', () => {
  const tcp = ['db_host = 127.0.0.1', 'db_user = bus_sidecar', 'db_password = bus_sidecar'];
  const tlsOnly = async () => {
    const backends = await sidecarBackends();
    expect(backends.length).toBeGreaterThan(0);
    for (const backend of backends) expect(backend).toMatchObject({ via_socket: false, ssl: true });
  };

  it("unset: Odoo's default `prefer`, TLS because the server offers it", async () => {
    await run([...tcp, `db_port = ${pg.port}`], {}, tlsOnly);
    // Asking the server first (libpq's SSLRequest) leaves nothing in its log.
    const log = await readFile(pg.logFile, 'utf8');
    expect(log.split('\n').filter((l) => /SSL|startup packet/.test(l))).toEqual([]);
  }, 60_000);

  it('require: TLS, whatever the certificate', async () => {
    await run([...tcp, `db_port = ${pg.port}`, 'db_sslmode = require'], {}, tlsOnly);
  }, 60_000);

  it("verify-full: TLS with the server's certificate checked against PGSSLROOTCERT", async () => {
    await run(
      [...tcp, `db_port = ${pg.port}`, 'db_sslmode = verify-full'],
      {
        PGSSLROOTCERT: join(certDir, 'server.crt'),
      },
      tlsOnly,
    );
  }, 60_000);

  it('disable: no TLS, so this server refuses the role, and the sidecar is not ready', async () => {
    const sidecar = await spawnSidecar(
      { logLevel: 'info' },
      {
        args: ['--odoo-config', odooConf([...tcp, `db_port = ${pg.port}`, 'db_sslmode = disable'])],
        waitReady: false,
      },
    );
    try {
      const ready = await fetch(`${sidecar.adminUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(await sidecarBackends()).toEqual([]);
    } finally {
      sidecar.kill('SIGKILL');
      await sidecar.exited;
    }
  }, 60_000);
});
