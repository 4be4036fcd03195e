import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  capLoggedFields,
  createLogger,
  MAX_LOGGED_CHARS,
} from '../../../src/observability/logger.js';
import { LogLimiter, type SuppressedNote } from '../../../src/observability/logLimiter.js';

function limiter(options: ConstructorParameters<typeof LogLimiter>[0] = {}) {
  let now = 0;
  const suppressed: string[] = [];
  const instance = new LogLimiter({
    linesPerClient: 2,
    linesPerEvent: 5,
    windowMs: 1000,
    maxKeys: 100,
    clock: () => now,
    onSuppressed: (event) => suppressed.push(event),
    ...options,
  });
  const written: Array<{ event: string; client: string; note: SuppressedNote }> = [];
  const log = (event: string, client: string) =>
    instance.log(event, client, (note) => written.push({ event, client, note }));
  return {
    log,
    written,
    suppressed,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('log budgets', () => {
  it("writes a client's first lines of a window, then says how many it left out", () => {
    const l = limiter();
    for (let i = 0; i < 5; i++) l.log('refused', '198.51.100.7');
    expect(l.written.map((w) => w.note)).toEqual([{}, {}]);
    expect(l.suppressed).toEqual(['refused', 'refused', 'refused']);
    l.advance(1000);
    l.log('refused', '198.51.100.7');
    expect(l.written.at(-1)?.note).toEqual({ suppressed: 3 });
  });

  it('keeps budgets per client and per event, and bounds an event across all clients', () => {
    const l = limiter();
    l.log('refused', 'a');
    l.log('refused', 'a');
    l.log('other', 'a');
    expect(l.written).toHaveLength(3);
    for (let i = 0; i < 10; i++) l.log('refused', `client-${i}`);
    // Five lines of `refused` per window in all.
    expect(l.written.filter((w) => w.event === 'refused')).toHaveLength(5);
  });

  it('keys a client by its first 64 characters, and forgets clients past its size', () => {
    const l = limiter({ linesPerEvent: 1_000_000, maxKeys: 10 });
    const long = 'x'.repeat(15_000);
    for (let i = 0; i < 5; i++) l.log('refused', `${long}${i}`);
    expect(l.written).toHaveLength(2);
    for (let i = 0; i < 1000; i++) l.log('refused', `client-${i}`);
    expect(l.written).toHaveLength(1002);
  });

  it('runs on the monotonic clock by default: a wall-clock step opens no new window', () => {
    const instance = new LogLimiter({ linesPerClient: 1 });
    let written = 0;
    const realNow = Date.now;
    try {
      instance.log('refused', 'a', () => written++);
      Date.now = () => realNow() + 3600_000;
      instance.log('refused', 'a', () => written++);
      expect(written).toBe(1);
    } finally {
      Date.now = realNow;
    }
  });
});

describe('logged fields', () => {
  it('are cut, bindings and nested objects included, whatever a client sent', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, callback) {
          lines.push(String(chunk));
          callback();
        },
      }),
    );
    const huge = 'x'.repeat(15_000);
    logger
      .child(capLoggedFields({ ip: huge }))
      .child({ component: 'websocket' })
      .info({ path: huge, req: { url: huge, headers: { origin: huge } }, n: 1 }, 'refused');
    const line = lines[0] ?? '';
    expect(line.length).toBeLessThan(6 * MAX_LOGGED_CHARS);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.ip).toBe(`${'x'.repeat(MAX_LOGGED_CHARS)}...[15000 chars]`);
    expect(parsed.path).toBe(parsed.ip);
    expect((parsed.req as { url: string }).url).toBe(parsed.ip);
    expect(parsed.n).toBe(1);
    expect(parsed.msg).toBe('refused');
  });
});
