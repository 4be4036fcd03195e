/**
 * The sidecar as its own process (`src/main.ts` through tsx), for what only a process shows:
 * signals, exit codes, shutdown timing. Settings are passed as command-line flags.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SettingKey } from '../../src/config/settings.js';
import { settings } from '../../src/config/settings.js';
import { freePort } from './ports.js';
import { waitFor } from './waitFor.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SidecarProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly output: string[];
  /** Resolves with the exit code (or signal name) and when it happened. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `src/main.ts` with these settings (a free port unless `values.port` names one, not 0) and
 * returns at once, ready or not: for tests of a process that is meant to fail.
 */
export async function launchSidecar(
  values: Partial<Record<SettingKey, unknown>>,
): Promise<SidecarProcess> {
  const port = typeof values.port === 'number' && values.port > 0 ? values.port : await freePort();
  const args = ['--import', 'tsx', resolve(repoRoot, 'src/main.ts')];
  for (const [key, value] of Object.entries({ host: '127.0.0.1', ...values, port })) {
    if (value !== undefined)
      args.push(`--${settings[key as SettingKey].source.flag}=${String(value)}`);
  }
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH },
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
    output,
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
  };
}

/** Starts `src/main.ts` with these settings and resolves once its `/readyz` answers 200. */
export async function spawnSidecar(
  values: Partial<Record<SettingKey, unknown>>,
): Promise<SidecarProcess> {
  const sidecar = await launchSidecar(values);
  await waitFor(
    async () =>
      (await fetch(`http://127.0.0.1:${sidecar.port}/readyz`).catch(() => undefined))?.status ===
      200,
    // tsx compiles at start, in every worker too: slow on a loaded machine.
    { timeoutMs: 60_000, message: 'the sidecar process became ready' },
  ).catch((error: unknown) => {
    sidecar.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${sidecar.output.join('')}`);
  });
  return sidecar;
}
