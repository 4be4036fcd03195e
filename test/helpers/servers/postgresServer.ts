/**
 * One PostgreSQL server process on a given data directory: where the binaries are, the settings
 * every test server runs with, starting it under a guard, and waiting until it accepts connections.
 * Clusters (`postgres.ts`) and the cached template (`postgresTemplate.ts`) are both built on this.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { sleep } from '../waitFor.js';
import { type GuardedProcess, spawnGuarded } from './guardedProcess.js';
import { freePort } from './ports.js';
import { requireTool } from './systemTools.js';

export const ODOO_ROLE = { user: 'odoo', password: 'odoo' } as const;
export const SIDECAR_ROLE = { user: 'bus_sidecar', password: 'bus_sidecar' } as const;

/** Connections the harness itself opens carry this prefix, so `backends()` can leave them out. */
export const HARNESS_APPLICATION_NAME = 'bus-harness';

/**
 * Speed over durability (the data is thrown away), statement statistics for counting the sidecar's
 * reads, and room for many sockets' worth of connections.
 */
export const TEST_SERVER_SETTINGS: Readonly<Record<string, string>> = {
  listen_addresses: '127.0.0.1',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track': 'all',
  max_connections: '300',
  shared_buffers: '32MB',
  logging_collector: 'off',
  log_line_prefix: '%m [%p] %q%u@%d %a ',
};

/** PostgreSQL's server binaries: `pg_config --bindir`, else the newest Debian-style install. */
export function postgresBinDir(): string {
  return requireTool('postgres');
}

export interface ServerLaunch {
  dataDir: string;
  port: number;
  socketDir: string;
  logFile: string;
  settings?: Readonly<Record<string, string>>;
}

/** Starts `postgres` in the foreground (under a guard) with the test settings; appends to the log. */
export async function launchPostgres(launch: ServerLaunch): Promise<GuardedProcess> {
  const settings: Record<string, string> = {
    ...TEST_SERVER_SETTINGS,
    ...launch.settings,
    port: String(launch.port),
    unix_socket_directories: launch.socketDir,
  };
  const args = ['-D', launch.dataDir];
  for (const [key, value] of Object.entries(settings)) args.push('-c', `${key}=${value}`);
  const log = await open(launch.logFile, 'a');
  try {
    return await spawnGuarded(join(postgresBinDir(), 'postgres'), {
      args,
      cwd: launch.socketDir,
      outputFd: log.fd,
      // An immediate shutdown: the postmaster takes its children down with it.
      finalSignal: 'QUIT',
    });
  } finally {
    await log.close();
  }
}

export async function logTail(logFile: string, lines = 30): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

async function answersQueries(port: number): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    database: 'postgres',
    ...ODOO_ROLE,
    application_name: `${HARNESS_APPLICATION_NAME}-probe`,
    connectionTimeoutMillis: 2_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    // refused, or "the database system is starting up": not yet
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Resolves once the server answers a query as `odoo`; fails at once if the process exits first. */
export async function waitUntilAccepting(
  server: GuardedProcess,
  launch: ServerLaunch,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!server.running) {
      throw new Error(`PostgreSQL exited during start-up:\n${await logTail(launch.logFile)}`);
    }
    if (await answersQueries(launch.port)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `PostgreSQL on port ${launch.port} did not accept connections within ${timeoutMs} ms:\n${await logTail(launch.logFile)}`,
      );
    }
    await sleep(15);
  }
}

/**
 * Picks a free port and starts the server there, ready for connections. Another process may grab
 * the port between the probe and the bind; then the server exits with "Address already in use" and
 * the next free port is tried.
 */
export async function launchOnFreePort(
  launch: Omit<ServerLaunch, 'port'>,
  attempts = 3,
): Promise<{ server: GuardedProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const full = { ...launch, port };
    const server = await launchPostgres(full);
    try {
      await waitUntilAccepting(server, full);
      return { server, port };
    } catch (error) {
      server.signal('QUIT');
      await server.waitForExit();
      const portTaken = /Address already in use/.test(await logTail(launch.logFile, 10));
      if (!portTaken || attempt >= attempts) throw error;
    }
  }
}
