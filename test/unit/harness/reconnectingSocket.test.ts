import { describe, expect, it } from 'vitest';
import { nextReconnectDelay, WORKER_RECONNECT } from '../../helpers/clients/reconnectingSocket.js';

describe("the storm clients' reconnect delay (Odoo's websocket worker)", () => {
  it('grows by half from 1 s, plus up to 1 s of jitter, capped at 60 s', () => {
    let delay: number = WORKER_RECONNECT.initialDelayMs;
    const none = () => 0;
    const schedule: number[] = [];
    for (let i = 0; i < 12; i++) {
      delay = nextReconnectDelay(delay, none);
      schedule.push(delay);
    }
    expect(schedule.slice(0, 3)).toEqual([1500, 2250, 3375]);
    expect(schedule.at(-1)).toBe(60_000);
    expect(nextReconnectDelay(1000, () => 0.999)).toBeCloseTo(2499, 0);
    // After a keep-alive timeout the worker starts again from 0: jitter only.
    expect(nextReconnectDelay(0, () => 0.5)).toBe(500);
  });
});
