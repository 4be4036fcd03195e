/**
 * `--workers N` on a real process: a primary whose workers cannot start (the port is taken) stops
 * after a bounded number of attempts, with one line that says why, instead of forking forever.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchSidecar } from '../helpers/servers/sidecarProcess.js';

let taken: Server;
let port = 0;

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  port = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
});

interface LogLine {
  level: string;
  msg: string;
  pid: number;
  failedStarts?: number;
  reason?: string;
}

describe('worker processes that keep failing to start', () => {
  it('make the primary give up with one clear error line and a non-zero exit', async () => {
    // No database or Odoo is needed to reach the listen that fails: both are retried meanwhile.
    const sidecar = await launchSidecar(
      {
        workers: 2,
        dbHost: '127.0.0.1',
        dbPort: 1,
        listenDbHost: '127.0.0.1',
        listenDbPort: 1,
        odooUrl: 'http://127.0.0.1:1',
        logLevel: 'info',
      },
      { port },
    );
    try {
      const exit = await sidecar.exited;
      expect(exit.code).toBe(1);
      const lines = sidecar.output
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine);
      const primary = lines.find((l) => l.msg === 'starting worker processes')?.pid;
      const fatal = lines.filter((l) => l.pid === primary && l.level === 'fatal');
      expect(fatal).toHaveLength(1);
      expect(fatal[0]?.msg).toMatch(
        /^worker processes failed to start 5 times in a row \(last: .*EADDRINUSE.*\); giving up$/,
      );
      expect(fatal[0]?.reason).toContain(String(port));
      // Each attempt is a worker that said why it could not start: a bounded number of them.
      const attempts = lines.filter((l) => l.msg === 'cannot start');
      expect(attempts.length).toBeGreaterThanOrEqual(5);
      expect(attempts.length).toBeLessThanOrEqual(6);
      // Replaced with a growing delay in between, not at once.
      const delays = lines
        .filter((l) => l.msg === 'worker exited; starting another')
        .map((l) => (l as LogLine & { restartInMs: number }).restartInMs);
      expect(delays).toHaveLength(4);
      expect(delays.every((ms) => ms > 0)).toBe(true);
    } finally {
      sidecar.kill('SIGKILL');
    }
  }, 180_000);
});
