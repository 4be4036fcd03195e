import { describe, expect, it } from 'vitest';
import {
  channelWithDb,
  distinctChannels,
  jsonDump,
  notifyPayloads,
} from '../../helpers/fakeOdoo/odooBusEncoding.js';
import { readFixture } from '../../helpers/fixtures.js';

interface NotifyTrace {
  actions: Array<{ name: string; notifies: Array<{ payload: string; payload_bytes: number }> }>;
}
interface BusRows {
  actions: Array<{ name: string; rows: Array<{ channel: string }> }>;
}

const trace = readFixture<NotifyTrace>('odoo17', 'notify-trace.json');
const busRows = readFixture<BusRows>('odoo17', 'bus-rows.json');

function action<T extends { name: string }>(list: T[], name: string): T {
  const found = list.find((a) => a.name === name);
  if (found === undefined) throw new Error(`no recorded action ${name}`);
  return found;
}

describe('channelWithDb', () => {
  it('prefixes records, subchannels and strings with the database name', () => {
    expect(channelWithDb('odoo17', ['res.partner', 3])).toEqual(['odoo17', 'res.partner', 3]);
    expect(channelWithDb('odoo17', ['discuss.channel', 1, 'members'])).toEqual([
      'odoo17',
      'discuss.channel',
      1,
      'members',
    ]);
    expect(channelWithDb('odoo17', 'broadcast')).toEqual(['odoo17', 'broadcast']);
  });
});

describe('notify payloads', () => {
  it('re-encodes every recorded payload byte for byte', () => {
    for (const a of trace.actions) {
      for (const notify of a.notifies) {
        const channels = JSON.parse(notify.payload) as unknown[];
        expect(jsonDump(channels)).toBe(notify.payload);
        expect(Buffer.byteLength(notify.payload)).toBe(notify.payload_bytes);
      }
    }
  });

  it('splits the recorded 60 x 210-character call into two payloads of 6331 bytes', () => {
    const channels = action(busRows.actions, 'S_big_payload_split').rows.map(
      (row) => JSON.parse(row.channel) as unknown,
    );
    const payloads = notifyPayloads(distinctChannels(channels));
    const recorded = action(trace.actions, 'S_big_payload_split').notifies;
    expect(payloads.map((p) => Buffer.byteLength(p))).toEqual(recorded.map((n) => n.payload_bytes));
    expect(payloads.map((p) => (JSON.parse(p) as unknown[]).length)).toEqual([30, 30]);
  });

  it('sends one payload below the limit and never splits a single channel', () => {
    expect(
      notifyPayloads(
        [
          ['db', 'a'],
          ['db', 'b'],
        ],
        8000,
      ),
    ).toHaveLength(1);
    const huge = ['db', 'x'.repeat(9000)];
    expect(notifyPayloads([huge])).toEqual([jsonDump([huge])]);
    expect(notifyPayloads([])).toEqual([]);
  });

  it('halves with the first half rounded up, recursively', () => {
    const channels = [1, 2, 3, 4, 5].map((n) => ['db', `c${n}`]);
    const payloads = notifyPayloads(channels, 20);
    expect(payloads.map((p) => JSON.parse(p))).toEqual(channels.map((c) => [c]));
    const five = notifyPayloads(channels, 30);
    expect(five.map((p) => (JSON.parse(p) as unknown[]).length)).toEqual([2, 1, 2]);
  });

  it('deduplicates channels by their stored text', () => {
    expect(
      distinctChannels([
        ['db', 'a'],
        ['db', 'a'],
        ['db', 'b'],
      ]),
    ).toEqual([
      ['db', 'a'],
      ['db', 'b'],
    ]);
  });
});

describe("Odoo 19's NOTIFYs: one set per transaction (the writer's `notifyPer: 'transaction'`)", () => {
  interface Trace19 {
    actions: Array<{ name: string; notifies: Array<{ payload: string }> }>;
  }
  interface Rows19 {
    actions: Array<{ name: string; rows: Array<{ xmin: string; channel: string }> }>;
  }
  const trace19 = readFixture<Trace19>('odoo19', 'notify-trace.json');
  const rows19 = readFixture<Rows19>('odoo19', 'bus-rows.json');

  it("every recorded payload is the transaction's distinct channels, split at 8000 bytes", () => {
    let checked = 0;
    for (const a of trace19.actions) {
      const rows = rows19.actions.find((r) => r.name === a.name)?.rows ?? [];
      const transactions = new Map<string, unknown[]>();
      for (const row of rows) {
        const channels = transactions.get(row.xmin) ?? [];
        channels.push(JSON.parse(row.channel));
        transactions.set(row.xmin, channels);
      }
      const expected = [...transactions.values()].flatMap((channels) =>
        notifyPayloads(distinctChannels(channels)),
      );
      expect(
        a.notifies.map((n) => n.payload),
        a.name,
      ).toEqual(expected);
      checked += expected.length;
    }
    expect(checked).toBeGreaterThanOrEqual(30);
  });
});
