import { describe, expect, it } from 'vitest';
import { NotifyPayloadError, parseImbusPayload } from '../../../src/bus/notifyPayload.js';
import { pythonDumps } from '../../../src/json/pythonJson.js';
import { readFixture } from '../../helpers/fixtures.js';

interface Trace {
  actions:
    | Record<string, { notifies: Array<{ payload: string }> }>
    | Array<{ name: string; notifies: Array<{ payload: string }> }>;
}
interface Rows {
  actions:
    | Record<string, { rows: Array<{ channel: string }> }>
    | Array<{ name: string; rows: Array<{ channel: string }> }>;
}

const list = <T>(actions: Record<string, T> | Array<T & { name: string }>): Array<[string, T]> =>
  Array.isArray(actions) ? actions.map((a) => [a.name, a]) : Object.entries(actions);

describe.each(['odoo17', 'odoo19'])('parseImbusPayload on the recorded NOTIFYs (%s)', (version) => {
  const trace = readFixture<Trace>(version, 'notify-trace.json');
  const rows = readFixture<Rows>(version, 'bus-rows.json');
  const rowChannels = new Map(
    list(rows.actions).map(([name, a]) => [name, new Set(a.rows.map((r) => r.channel))]),
  );
  for (const [name, action] of list(trace.actions)) {
    if (action.notifies.length === 0) continue;
    it(`${name}: each channel is one of that action's bus_bus rows, attributed to its database`, () => {
      const written = rowChannels.get(name) ?? new Set();
      for (const notify of action.notifies) {
        const channels = parseImbusPayload(notify.payload);
        const values = JSON.parse(notify.payload) as unknown[][];
        expect(channels.length).toBe(values.length);
        expect(channels.length).toBeGreaterThan(0);
        values.forEach((value, i) => {
          // The NOTIFY names the very channels the rows carry (as `bus_bus.channel` text).
          expect(written.has(pythonDumps(value)), pythonDumps(value)).toBe(true);
          expect(channels[i]?.db).toBe(value[0]);
          expect(typeof channels[i]?.db).toBe('string');
        });
      }
    });
  }
});

describe('parseImbusPayload', () => {
  it('attributes channels to their database and keeps plain string channels (12-14)', () => {
    expect(parseImbusPayload('[["db1","res.partner",7],["otherdb","broadcast"],"legacy"]')).toEqual(
      [{ db: 'db1' }, { db: 'otherdb' }, { db: undefined }],
    );
  });

  it('refuses what is not a JSON array', () => {
    for (const bad of ['', 'x', '{"a":1}', '[1,', '"str"']) {
      expect(() => parseImbusPayload(bad)).toThrow(NotifyPayloadError);
    }
  });
});
