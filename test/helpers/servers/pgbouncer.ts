/**
 * A real PgBouncer between the simulated Odoo and a throwaway cluster, running the project's own
 * `deploy/pgbouncer.ini` with only the test machine's differences (`pgbouncerConfig.ts`): so the
 * integration tests exercise the pooling mode and timeouts production uses.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { handToServiceAccount } from '../fakeOdoo/serviceAccount.js';
import { sleep } from '../waitFor.js';
import { removeAbandonedDirs } from './abandonedDirs.js';
import { type GuardedProcess, type SignalName, spawnGuarded } from './guardedProcess.js';
import { adaptForTestMachine, consoleUsers, parseIni, renderUserList } from './pgbouncerConfig.js';
import { freePort } from './ports.js';
import { ODOO_ROLE, type PgCluster, SIDECAR_ROLE } from './postgres.js';
import { HARNESS_APPLICATION_NAME } from './postgresServer.js';
import { requireTool } from './systemTools.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The file docker-compose mounts; the tests must run this one. */
export const PRODUCTION_CONFIG = join(repoRoot, 'deploy', 'pgbouncer.ini');

export interface PgBouncerOptions {
  /** Another production-style file (tests of the adaptation itself). */
  configFile?: string;
  binary?: string;
}

export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  readonly configFile: string;
  readonly logFile: string;
  /** First user of `admin_users`, with the password generated for this run. */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** Runs a console command (`SHOW POOLS`, `SHOW CONFIG`, ...) on the admin database. */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(command: string): Promise<R[]>;
  /** Immediate shutdown (clients are cut), then a start on the same port; resolves when it accepts. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function findBinary(): string {
  return requireTool('pgbouncer');
}

/** SIGTERM meant "immediate shutdown" until 1.23, where it became a slow "super safe" one. */
function immediateShutdownSignal(binary: string): SignalName {
  const out = execFileSync(binary, ['--version'], { encoding: 'utf8' });
  const [, major = '1', minor = '0'] = /PgBouncer (\d+)\.(\d+)/.exec(out) ?? [];
  return Number(major) > 1 || Number(minor) >= 23 ? 'QUIT' : 'TERM';
}

class RunningPgBouncer implements PgBouncer {
  readonly host = '127.0.0.1';
  private process: GuardedProcess | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly binary: string,
    private readonly shutdownSignal: SignalName,
    readonly port: number,
    private readonly dir: string,
    readonly configFile: string,
    readonly logFile: string,
    readonly adminUser: string,
    readonly adminPassword: string,
  ) {}

  async start(): Promise<void> {
    const output = await open(join(this.dir, 'console.log'), 'a');
    try {
      this.process = await spawnGuarded(this.binary, {
        args: [this.configFile],
        cwd: this.dir,
        outputFd: output.fd,
        // One process, no children: nothing to clean up after a hard kill.
        finalSignal: 'KILL',
      });
    } finally {
      await output.close();
    }
    await this.waitUntilAccepting();
  }

  private async waitUntilAccepting(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.process?.running !== true) {
        const out = await readFile(join(this.dir, 'console.log'), 'utf8').catch(() => '');
        throw new Error(`PgBouncer exited during start-up:\n${out}`);
      }
      try {
        await this.admin('SHOW VERSION');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await sleep(15);
    }
  }

  async admin<R extends pg.QueryResultRow = pg.QueryResultRow>(command: string): Promise<R[]> {
    const client = new pg.Client({
      host: this.host,
      port: this.port,
      database: 'pgbouncer',
      user: this.adminUser,
      password: this.adminPassword,
      application_name: HARNESS_APPLICATION_NAME,
      connectionTimeoutMillis: 2_000,
    });
    client.on('error', () => {});
    await client.connect();
    try {
      // No parameters: the console speaks only the simple query protocol.
      return (await client.query<R>(command)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async halt(): Promise<void> {
    if (this.process === undefined) return;
    this.process.signal(this.shutdownSignal);
    await this.process.waitForExit();
  }

  async restart(): Promise<void> {
    if (this.stopping !== undefined) throw new Error('PgBouncer is stopped');
    await this.halt();
    await this.start();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.halt();
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

const DIR_PREFIX = 'odoo-bus-sidecar-pgbouncer-';
let sweep: Promise<void> | undefined;

/** Starts PgBouncer with the production configuration, pointed at `pg`. */
export async function startPgBouncer(
  pg: PgCluster,
  options: PgBouncerOptions = {},
): Promise<PgBouncer> {
  sweep ??= removeAbandonedDirs(DIR_PREFIX, 'pgbouncer.pid').catch(() => {});
  await sweep;
  const binary = options.binary ?? findBinary();
  const production = await readFile(options.configFile ?? PRODUCTION_CONFIG, 'utf8');
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  try {
    const admins = consoleUsers(parseIni(production));
    const adminUser = admins[0];
    if (adminUser === undefined) throw new Error('the configuration names no admin_users');
    const adminPassword = randomBytes(12).toString('hex');
    const passwords: Record<string, string> = {
      [ODOO_ROLE.user]: ODOO_ROLE.password,
      [SIDECAR_ROLE.user]: SIDECAR_ROLE.password,
    };
    for (const user of admins) passwords[user] = adminPassword;
    const authFile = join(dir, 'userlist.txt');
    await writeFile(authFile, renderUserList(passwords), { mode: 0o600 });
    const port = await freePort();
    const configFile = join(dir, 'pgbouncer.ini');
    const logFile = join(dir, 'pgbouncer.log');
    const config = adaptForTestMachine(production, {
      listenAddr: '127.0.0.1',
      listenPort: port,
      socketDir: dir,
      logFile,
      pidFile: join(dir, 'pgbouncer.pid'),
      authFile,
      serverHost: pg.host,
      serverPort: pg.port,
    });
    await writeFile(configFile, config);
    await handToServiceAccount(dir);
    const bouncer = new RunningPgBouncer(
      binary,
      immediateShutdownSignal(binary),
      port,
      dir,
      configFile,
      logFile,
      adminUser,
      adminPassword,
    );
    await bouncer.start();
    return bouncer;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
