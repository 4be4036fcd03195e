import { describe, expect, it } from 'vitest';
import { canonicalJson, pythonDumps } from '../../../src/json/pythonJson.js';
import { member, parseJson } from '../../../src/json/rawJson.js';
import { readPeekResult } from '../../../src/odoo/peek.js';
import { readFixture } from '../../helpers/fixtures.js';

interface RouteCase {
  name: string;
  request: { path: string };
  response: { status: number; body_json: unknown; body_raw_if_small: string | null };
}

const cases = readFixture<{ cases: RouteCase[] }>('odoo17', 'http-routes.json').cases.filter(
  (c) => c.request.path === '/websocket/peek_notifications' && c.response.status === 200,
);

describe("readPeekResult on Odoo 17's recorded answers", () => {
  for (const c of cases) {
    const body = c.response.body_json as {
      result?: { channels: unknown[]; notifications: Array<{ id: number; message: unknown }> };
    };
    if (!body?.result) continue;
    it(c.name, () => {
      // Python's default json.dumps spelling, as Odoo sent it (raw UTF-8, ", " separators).
      const text =
        c.response.body_raw_if_small ?? pythonDumps(body, { compact: false, ensureAscii: false });
      const result = member(parseJson(text), 'result');
      if (!result) throw new Error('no result');
      const peek = readPeekResult(text, result);
      expect(peek.channels).toEqual(body.result?.channels.map((ch) => pythonDumps(ch)));
      expect(peek.database).toBe('odoo17');
      expect(peek.notifications.map((n) => n.id)).toEqual(
        body.result?.notifications.map((n) => n.id).sort((a, b) => a - b),
      );
      for (const n of peek.notifications) {
        const original = body.result?.notifications.find((o) => o.id === n.id);
        expect(JSON.parse(n.message)).toEqual(original?.message);
      }
    });
  }

  it('turns raw UTF-8 channel names into the escaped text stored in bus_bus', () => {
    const text = '{"result": {"channels": [["odoo17", "canal-é"]], "notifications": []}}';
    const peek = readPeekResult(text, member(parseJson(text), 'result') as never);
    expect(peek.channels).toEqual([canonicalJson('["odoo17","canal-\\u00e9"]')]);
  });
});
