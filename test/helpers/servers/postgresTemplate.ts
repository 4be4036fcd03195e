/**
 * A PostgreSQL data directory made once and copied for every test cluster: `initdb` plus the roles
 * and the statistics extension cost about a second, a copy about 50 ms.
 *
 * The template lives in the OS temp dir under a name derived from everything that shapes it (server
 * version, initdb arguments, set-up SQL, owner), so a changed harness never reuses a stale one.
 * Concurrent test workers may build it at the same time: each builds in its own staging directory
 * and publishes it with an atomic `rename`; the losers discard theirs and use the winner's.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { handToServiceAccount, serviceAccount } from '../fakeOdoo/serviceAccount.js';
import {
  HARNESS_APPLICATION_NAME,
  launchOnFreePort,
  ODOO_ROLE,
  postgresBinDir,
  SIDECAR_ROLE,
} from './postgresServer.js';

const execFileAsync = promisify(execFile);

/** Bump when the template's content changes in a way the inputs below do not capture. */
const TEMPLATE_REVISION = 1;

const INITDB_ARGS = [
  `--username=${ODOO_ROLE.user}`,
  // The unix socket is only used by the harness; TCP needs real passwords, as PgBouncer does.
  '--auth-local=trust',
  '--auth-host=scram-sha-256',
  '--encoding=UTF8',
  '--locale=C',
  '--no-sync',
  // 1 MB WAL segments instead of 16 MB: a much smaller directory to copy per cluster.
  '--wal-segsize=1',
];

const SETUP_SQL = [
  `CREATE ROLE ${SIDECAR_ROLE.user} LOGIN NOSUPERUSER PASSWORD '${SIDECAR_ROLE.password}'`,
  // In `postgres`, where busReadCount() reads the statistics of every database.
  'CREATE EXTENSION pg_stat_statements',
  // Every cluster copies the template, and file creation dominates the copy: a third of the files
  // belong to template0, which no test uses (CREATE DATABASE copies template1).
  'ALTER DATABASE template0 IS_TEMPLATE false',
  'DROP DATABASE template0',
  // With a small min_wal_size, the checkpoint leaves only the WAL segments still needed.
  'CHECKPOINT',
];

/** For the template's own server only: keep pg_wal small in what every cluster copies. */
const TEMPLATE_BUILD_SETTINGS = { min_wal_size: '2MB', max_wal_size: '4MB' };

function serverVersion(binDir: string): Promise<string> {
  return execFileAsync(join(binDir, 'postgres'), ['--version']).then((r) => r.stdout.trim());
}

async function templateDir(binDir: string): Promise<string> {
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        TEMPLATE_REVISION,
        binDir,
        version: await serverVersion(binDir),
        INITDB_ARGS,
        SETUP_SQL,
        TEMPLATE_BUILD_SETTINGS,
        owner: serviceAccount()?.uid ?? process.getuid?.(),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  return join(tmpdir(), 'odoo-bus-sidecar-pg-templates', key);
}

async function initdb(binDir: string, dataDir: string, staging: string): Promise<void> {
  const pwfile = join(staging, 'pwfile');
  await writeFile(pwfile, `${ODOO_ROLE.password}\n`, { mode: 0o600 });
  const account = serviceAccount();
  if (account !== null) await chown(pwfile, account.uid, account.gid);
  await execFileAsync(
    join(binDir, 'initdb'),
    ['-D', dataDir, `--pwfile=${pwfile}`, ...INITDB_ARGS],
    { cwd: staging, ...(account === null ? {} : { uid: account.uid, gid: account.gid }) },
  ).catch((error: unknown) => {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`initdb failed: ${stderr}`, { cause: error });
  });
}

async function applySetup(dataDir: string, staging: string): Promise<void> {
  const logFile = join(staging, 'template.log');
  const { server, port } = await launchOnFreePort({
    dataDir,
    socketDir: staging,
    logFile,
    settings: TEMPLATE_BUILD_SETTINGS,
  });
  try {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      database: 'postgres',
      ...ODOO_ROLE,
      application_name: HARNESS_APPLICATION_NAME,
    });
    await client.connect();
    try {
      for (const sql of SETUP_SQL) await client.query(sql);
    } finally {
      await client.end();
    }
  } finally {
    // A clean (fast) shutdown, so that every copy starts without crash recovery.
    server.signal('INT');
    await server.waitForExit();
  }
}

/** Staging directories left by runs that were killed mid-build; no live build takes this long. */
async function removeAbandonedBuilds(root: string): Promise<void> {
  const cutoff = Date.now() - 10 * 60_000;
  for (const name of await readdir(root)) {
    if (!name.startsWith('build-')) continue;
    const path = join(root, name);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && info.mtimeMs < cutoff)
      await rm(path, { recursive: true, force: true });
  }
}

async function build(finalDir: string, binDir: string): Promise<void> {
  const root = join(finalDir, '..');
  await mkdir(root, { recursive: true, mode: 0o755 });
  await removeAbandonedBuilds(root);
  const staging = await mkdtemp(join(root, 'build-'));
  try {
    await handToServiceAccount(staging);
    const dataDir = join(staging, 'data');
    await initdb(binDir, dataDir, staging);
    await applySetup(dataDir, staging);
    try {
      await rename(dataDir, finalDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another worker published first; its template is as good as ours.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

let template: Promise<string> | undefined;

/** Path of a ready template data directory (built on first use, then reused across runs). */
export function ensureTemplate(): Promise<string> {
  template ??= (async () => {
    const binDir = postgresBinDir();
    const dir = await templateDir(binDir);
    if (!existsSync(join(dir, 'PG_VERSION'))) await build(dir, binDir);
    return dir;
  })();
  return template;
}
