/**
 * A full garbage collection in another Node process, through its inspector (the process runs with
 * `--inspect=127.0.0.1:<port>`), so that idle memory is measured without the garbage connection
 * setup left behind — the same treatment for the sidecar and the reference server.
 */
import WebSocket from 'ws';

/** Where a process's memory is, as V8 and Node see it (heap spaces committed and used). */
export interface MemoryBreakdown {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, { committed: number; used: number }>;
}

const BREAKDOWN = `JSON.stringify({ ...process.memoryUsage(), spaces: Object.fromEntries(
  process.getBuiltinModule('node:v8').getHeapSpaceStatistics().map((s) => [s.space_name,
  { committed: s.physical_space_size, used: s.space_used_size }])) })`;

/** `process.memoryUsage()` and V8's heap spaces of another Node process, without collecting. */
export async function memoryBreakdown(port: number): Promise<MemoryBreakdown | undefined> {
  const answer = await call(port, 'Runtime.evaluate', {
    expression: BREAKDOWN,
    includeCommandLineAPI: true,
    returnByValue: true,
  });
  const value = (answer as { result?: { value?: unknown } } | undefined)?.result?.value;
  return typeof value === 'string' ? (JSON.parse(value) as MemoryBreakdown) : undefined;
}

async function call(port: number, method: string, params: object): Promise<unknown> {
  try {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
      webSocketDebuggerUrl?: string;
    }>;
    const url = targets[0]?.webSocketDebuggerUrl;
    if (url === undefined) return undefined;
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const done = new Promise<unknown>((resolve) => {
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
        if (message.id === 1) resolve(message.result);
      });
    });
    ws.send(JSON.stringify({ id: 1, method, params }));
    const result = await done;
    ws.close();
    return result;
  } catch {
    return undefined;
  }
}

export async function collectGarbage(port: number): Promise<boolean> {
  try {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
      webSocketDebuggerUrl?: string;
    }>;
    const url = targets[0]?.webSocketDebuggerUrl;
    if (url === undefined) return false;
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data) => {
        if ((JSON.parse(String(data)) as { id?: number }).id === 1) resolve();
      });
    });
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    await done;
    ws.close();
    return true;
  } catch {
    return false;
  }
}
