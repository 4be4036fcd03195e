/**
 * Long-running servers (PostgreSQL, PgBouncer) started so that they cannot outlive the test process.
 *
 * The server runs under a tiny `sh` guard that holds the read end of a pipe whose only write end is
 * this Node process. Lines written to the pipe are signal names the guard forwards to the server;
 * when the pipe reaches end-of-file — because the test process ended, however it ended, including
 * SIGKILL from a test runner — the guard sends the server its final signal. A `process.on('exit')`
 * hook does the same directly, as a second line of defence.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { serviceAccount } from '../fakeOdoo/serviceAccount.js';

export type SignalName = 'INT' | 'TERM' | 'QUIT' | 'KILL' | 'HUP';

export interface GuardedSpawnOptions {
  args: readonly string[];
  cwd: string;
  /** File descriptor receiving the server's stdout and stderr. */
  outputFd: number;
  /** Sent to the server when this process goes away without stopping it. */
  finalSignal: SignalName;
  env?: NodeJS.ProcessEnv;
}

export interface GuardedProcess {
  /** Pid of the server itself (not of its guard). */
  readonly pid: number;
  /**
   * Resolves with the server's exit status (128 + signal number when killed by a signal). While
   * someone waits, the guard keeps the event loop alive; otherwise it never does.
   */
  waitForExit(): Promise<number | null>;
  readonly running: boolean;
  signal(name: SignalName): void;
}

// $1 = final signal, then the command. fd 3 keeps the pipe from Node; the server gets neither it nor
// stdin, so only Node holds a write end and EOF means "Node is gone".
const GUARD_SCRIPT = `
final="$1"; shift
exec 3<&0 0</dev/null
"$@" >&2 3<&- &
child=$!
echo "$child"
( while read -r sig <&3; do kill -s "$sig" "$child" 2>/dev/null; done
  kill -s "$final" "$child" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$child"; status=$?
kill "$watcher" 2>/dev/null
exit "$status"
`;

const live = new Map<number, SignalName>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [pid, finalSignal] of live) {
      try {
        process.kill(pid, `SIG${finalSignal}`);
      } catch {
        // already gone
      }
    }
  });
}

function unrefStream(stream: Readable | Writable | null): void {
  const handle = stream as unknown as { unref?: () => void } | null;
  handle?.unref?.();
}

function readPidLine(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      child.stdout?.off('data', onData);
      const pid = Number.parseInt(text.slice(0, newline), 10);
      if (Number.isInteger(pid) && pid > 0) resolve(pid);
      else reject(new Error(`guard printed ${JSON.stringify(text)} instead of a pid`));
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`guard exited (${code}) before starting`)));
    child.once('error', reject);
  });
}

/** Starts `command` under a guard, as the service account when running as root. */
export async function spawnGuarded(
  command: string,
  options: GuardedSpawnOptions,
): Promise<GuardedProcess> {
  installExitHook();
  const account = serviceAccount();
  const child = spawn(
    '/bin/sh',
    ['-c', GUARD_SCRIPT, 'guard', options.finalSignal, command, ...options.args],
    {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', options.outputFd],
      ...(account === null ? {} : { uid: account.uid, gid: account.gid }),
    },
  );
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve(code ?? (signal === null ? null : 128));
    });
  });
  const pid = await readPidLine(child);
  live.set(pid, options.finalSignal);
  void exited.then(() => live.delete(pid));
  // A forgotten server must not keep the test runner alive: the guard kills it when we exit.
  child.unref();
  unrefStream(child.stdin);
  unrefStream(child.stdout);
  return {
    pid,
    waitForExit() {
      if (running) child.ref();
      return exited;
    },
    get running() {
      return running;
    },
    signal(name) {
      if (running) child.stdin?.write(`${name}\n`);
    },
  };
}
