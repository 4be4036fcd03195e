/**
 * The benchmark's helper processes (clients, reference server, fake Odoo) are TypeScript modules
 * forked with tsx; each speaks over the IPC channel. `Child` queues replies so a caller can await
 * the next one of a given type, and kills the process if the orchestrator goes away.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));

export class Child<Command, Reply extends { type: string }> {
  private readonly waiting: Array<{
    type: string;
    resolve: (reply: Reply) => void;
    reject: (error: Error) => void;
  }> = [];
  private exited = false;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    process.on('message', (message: Reply) => {
      const index = this.waiting.findIndex((w) => w.type === message.type);
      if (index < 0) return;
      const [waiter] = this.waiting.splice(index, 1);
      waiter?.resolve(message);
    });
    process.once('exit', (code, signal) => {
      this.exited = true;
      const error = new Error(`${name} exited (${code ?? signal}) while a reply was awaited`);
      for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    });
  }

  get pid(): number {
    return this.process.pid ?? 0;
  }

  send(command: Command): void {
    if (!this.exited) this.process.send(command as object);
  }

  next<T extends Reply['type']>(
    type: T,
    timeoutMs = 600_000,
  ): Promise<Extract<Reply, { type: T }>> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiting.findIndex((w) => w.resolve === done);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new Error(`${this.name}: no '${type}' reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (reply: Reply) => {
        clearTimeout(timer);
        resolve(reply as Extract<Reply, { type: T }>);
      };
      this.waiting.push({
        type,
        resolve: done,
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  request<T extends Reply['type']>(
    command: Command,
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<Reply, { type: T }>> {
    const reply = this.next(type, timeoutMs);
    this.send(command);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Forks `bench/<module>.ts` under tsx, with extra environment and node flags. */
export function forkBench<Command, Reply extends { type: string }>(
  module: string,
  options: { env?: Record<string, string>; nodeArgs?: string[]; name?: string } = {},
): Child<Command, Reply> {
  const child = fork(join(benchDir, `${module}.ts`), [], {
    execArgv: ['--import', 'tsx', ...(options.nodeArgs ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // The inspector (used to force garbage collections) announces itself on stderr: keep the rest.
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk
      .toString('utf8')
      .split('\n')
      .filter((line) => !/^(Debugger (listening|attached|ending)|For help, see)/.test(line))
      .join('\n');
    if (text.trim() !== '') process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  });
  const wrapped = new Child<Command, Reply>(options.name ?? module, child);
  killOnExit(child);
  return wrapped;
}

const live = new Set<ChildProcess>();
let hooked = false;

/** Children die with the orchestrator, however it ends. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}
