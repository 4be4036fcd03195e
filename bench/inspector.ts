/**
 * A full garbage collection in another Node process, through its inspector (the process runs with
 * `--inspect=127.0.0.1:<port>`), so that idle memory is measured without the garbage connection
 * setup left behind — the same treatment for the sidecar and the reference server.
 */
import WebSocket from 'ws';

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
