/**
 * A real nginx in front of a test's sidecar and fake Odoo, running the project's own
 * `deploy/nginx.conf` with only the test machine's differences (`nginxConfig.ts`), so browser tests
 * go through the very proxy configuration production uses. Each listener is its own origin
 * (`http://127.0.0.1:<port>`): a second one serves as a foreign site for cross-origin tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { handToServiceAccount } from '../fakeOdoo/serviceAccount.js';
import { sleep } from '../waitFor.js';
import { removeAbandonedDirs } from './abandonedDirs.js';
import { type GuardedProcess, spawnGuarded } from './guardedProcess.js';
import { adaptForTestMachine } from './nginxConfig.js';
import { freePort } from './ports.js';
import { requireTool } from './systemTools.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The file docker-compose mounts; the tests must run this one. */
export const PRODUCTION_NGINX_CONFIG = join(repoRoot, 'deploy', 'nginx.conf');

export interface NginxOptions {
  /** `host:port` of the sidecar (or of each sidecar of a fleet) and of Odoo's HTTP workers. */
  sidecar: string | readonly string[];
  odoo: string;
  /** Listeners (origins) to open; default 1. */
  listeners?: number;
  /** Another production-style file (tests of the adaptation itself). */
  configFile?: string;
  /** false: run a file whose bus locations are deliberately wrong (default true: refuse it). */
  checkBusRouting?: boolean;
  /**
   * Tens of thousands of sockets (the benchmark): more workers than the file's `auto`, each under
   * the machine's cap on open files, and `reuseport` so the kernel spreads connections evenly.
   */
  workerProcesses?: number;
}

export interface Nginx {
  /** `http://127.0.0.1:<port>`, one per listener. */
  readonly origins: readonly string[];
  /** The master process; its workers are its children. */
  readonly pid: number;
  readonly configFile: string;
  readonly errorLogFile: string;
  readonly accessLogFile: string;
  errorLog(): Promise<string>;
  /** Fast shutdown (open websockets are cut), then the temp directory is removed. */
  stop(): Promise<void>;
}

function findBinary(): string {
  return requireTool('nginx');
}

/**
 * nginx creates the temp directory of every proxy-like module compiled in, at compiled-in system
 * paths, even when unused: each must point into the test's directory. Which modules exist depends
 * on the build (`nginx-light` has fewer), so ask the binary.
 */
function tempPathDirectives(binary: string): string[] {
  const build = execFileSync(binary, ['-V'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const built = (module: string): boolean => !build.includes(`--without-http_${module}_module`);
  return [
    'client_body_temp_path',
    ...['proxy', 'fastcgi', 'uwsgi', 'scgi']
      .filter((module) => built(module))
      .map((module) => `${module}_temp_path`),
  ];
}

/** The hard limit on open files of the account nginx runs as (it may raise its soft limit to it). */
function hardOpenFilesLimit(): number {
  const out = execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number.parseInt(out, 10);
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

const DIR_PREFIX = 'odoo-bus-sidecar-nginx-';
let sweep: Promise<void> | undefined;

export async function startNginx(options: NginxOptions): Promise<Nginx> {
  sweep ??= removeAbandonedDirs(DIR_PREFIX, 'nginx.pid').catch(() => {});
  await sweep;
  const binary = findBinary();
  const production = await readFile(options.configFile ?? PRODUCTION_NGINX_CONFIG, 'utf8');
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  let server: GuardedProcess | undefined;
  try {
    const ports: number[] = [];
    while (ports.length < (options.listeners ?? 1)) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const tempPaths: Record<string, string> = {};
    for (const directive of tempPathDirectives(binary)) {
      tempPaths[directive] = join(dir, directive.replace(/_temp_path$/, ''));
      await mkdir(tempPaths[directive] as string);
    }
    const configFile = join(dir, 'nginx.conf');
    const errorLogFile = join(dir, 'error.log');
    const accessLogFile = join(dir, 'access.log');
    await writeFile(
      configFile,
      adaptForTestMachine(
        production,
        {
          upstreams: { odoo: options.odoo, sidecar: options.sidecar },
          listen: ports.map((port) => `127.0.0.1:${port}`),
          pidFile: join(dir, 'nginx.pid'),
          errorLog: errorLogFile,
          accessLog: accessLogFile,
          tempPaths,
          maxOpenFiles: hardOpenFilesLimit(),
          ...(options.workerProcesses === undefined
            ? {}
            : { workerProcesses: options.workerProcesses }),
        },
        { checkBusRouting: options.checkBusRouting ?? true },
      ),
    );
    await handToServiceAccount(dir);
    const output = await open(join(dir, 'console.log'), 'a');
    try {
      // -p: relative paths resolve in the test's directory; -e: errors before the configuration is
      // read go to the console log, not to a compiled-in system path.
      server = await spawnGuarded(binary, {
        args: ['-p', dir, '-c', configFile, '-e', 'stderr'],
        cwd: dir,
        outputFd: output.fd,
        // TERM is nginx's fast shutdown; the master then stops its workers (KILL would orphan them).
        finalSignal: 'TERM',
      });
    } finally {
      await output.close();
    }
    const started = server;
    const deadline = Date.now() + 30_000;
    for (const port of ports) {
      while (!(await accepting(port))) {
        if (!started.running || Date.now() > deadline) {
          const consoleLog = await readFile(join(dir, 'console.log'), 'utf8').catch(() => '');
          const errors = await readFile(errorLogFile, 'utf8').catch(() => '');
          throw new Error(`nginx did not start:\n${consoleLog}${errors}`);
        }
        await sleep(15);
      }
    }
    let stopping: Promise<void> | undefined;
    return {
      origins: ports.map((port) => `http://127.0.0.1:${port}`),
      pid: started.pid,
      configFile,
      errorLogFile,
      accessLogFile,
      errorLog: () => readFile(errorLogFile, 'utf8').catch(() => ''),
      stop() {
        stopping ??= (async () => {
          started.signal('TERM');
          await started.waitForExit();
          await rm(dir, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (server?.running) {
      server.signal('TERM');
      await server.waitForExit();
    }
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
