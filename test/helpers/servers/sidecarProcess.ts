/**
 * The sidecar as its own process (`src/main.ts` through tsx), for what only a process shows:
 * signals, exit codes, shutdown timing. Settings are passed as command-line flags.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SettingKey } from '../../../src/config/settings.js';
import { settings } from '../../../src/config/settings.js';
import { waitFor } from '../waitFor.js';
import { freePort } from './ports.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface SidecarProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** The admin port: `/metrics`, `/healthz`, `/readyz`, `/status`. */
  readonly adminPort: number;
  /** `http://127.0.0.1:<adminPort>`. */
  readonly adminUrl: string;
  readonly output: string[];
  /** Resolves with the exit code (or signal name) and when it happened. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal?: NodeJS.Signals): void;
}
export interface SpawnOptions {
  /** Node's own options, e.g. `--max-old-space-size` to run under a memory bound. */
  nodeArgs?: readonly string[];
  /** More command-line arguments (`--odoo-config`...). */
  args?: readonly string[];
  /** More environment variables (`PGHOST`...); the process gets only these and PATH. */
  env?: Readonly<Record<string, string>>;
  /** Resolve once `/readyz` answers 200 (default); false: once it answers at all. */
  waitReady?: boolean;
  /** A port of its own choosing: the same one again is a restart (default: a free one). */
  port?: number;
}

/**
 * Starts `src/main.ts` with these settings (on `options.port`, else a free port) and returns at
 * once, ready or not: for tests of a process that is meant to fail.
 */
export async function launchSidecar(
  values: Partial<Record<SettingKey, unknown>>,
  options: Omit<SpawnOptions, 'waitReady'> = {},
): Promise<SidecarProcess> {
  const port = options.port ?? (await freePort());
  // Port 0 would leave the test without the admin port's number: a free one is chosen instead.
  const adminPort = Number(values.adminPort ?? 0) || (await freePort());
  const args = [
    ...(options.nodeArgs ?? []),
    '--import',
    'tsx',
    resolve(repoRoot, 'src/main.ts'),
    ...(options.args ?? []),
  ];
  for (const [key, value] of Object.entries({ ...values, adminPort, port, host: '127.0.0.1' })) {
    if (value !== undefined)
      args.push(`--${settings[key as SettingKey].source.flag}=${String(value)}`);
  }
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(String(chunk)));
  child.stderr?.on('data', (chunk: Buffer) => output.push(String(chunk)));
  // A test that times out never reaches its own cleanup: the process must not outlive the runner.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (done) =>
      child.once('exit', (code, signal) => {
        process.off('exit', killOnExit);
        done({ code, signal, at: Date.now() });
      }),
  );
  return {
    child,
    port,
    adminPort,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    output,
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
  };
}

/** Starts `src/main.ts` with these settings and resolves once its `/readyz` answers. */
export async function spawnSidecar(
  values: Partial<Record<SettingKey, unknown>>,
  options: SpawnOptions = {},
): Promise<SidecarProcess> {
  const sidecar = await launchSidecar(values, options);
  const wanted = options.waitReady === false ? [200, 503] : [200];
  await waitFor(
    async () =>
      wanted.includes(
        (await fetch(`${sidecar.adminUrl}/readyz`).catch(() => undefined))?.status ?? 0,
      ),
    {
      // tsx compiles at start, in every worker too: slow on a loaded machine.
      timeoutMs: 60_000,
      message:
        options.waitReady === false
          ? 'the sidecar process answered /readyz'
          : 'the sidecar process became ready',
    },
  ).catch((error: unknown) => {
    sidecar.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${sidecar.output.join('')}`);
  });
  return sidecar;
}

/**
 * Runs `run` against a sidecar process started with `values`, then kills it. A failure carries the
 * process's log, which is where a test of what the sidecar says looks first.
 */
export async function withSidecarProcess(
  values: Partial<Record<SettingKey, unknown>>,
  options: SpawnOptions,
  run: (sidecar: SidecarProcess) => Promise<void>,
): Promise<void> {
  const sidecar = await spawnSidecar(values, options);
  try {
    await run(sidecar);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${sidecar.output.join('')}`, { cause: error });
  } finally {
    sidecar.kill('SIGKILL');
    await sidecar.exited;
  }
}
