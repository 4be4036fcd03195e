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
interface BusRows {
  actions: Array<{ name: string; rows: Array<{ channel: string }> }>;
}
type PeekBody = {
  result?: { channels: unknown[]; notifications: Array<{ id: number; message: unknown }> };
};

/** Every recorded 200 answer of `/websocket/peek_notifications` that carries a result. */
function peekAnswers(version: string): Array<{ name: string; text: string; body: PeekBody }> {
  return readFixture<{ cases: RouteCase[] }>(version, 'http-routes.json')
    .cases.filter(
      (c) => c.request.path === '/websocket/peek_notifications' && c.response.status === 200,
    )
    .flatMap((c) => {
      const body = c.response.body_json as PeekBody;
      if (!body?.result) return [];
      // Python's default json.dumps spelling, as Odoo sent it (raw UTF-8, ", " separators).
      const text =
        c.response.body_raw_if_small ?? pythonDumps(body, { compact: false, ensureAscii: false });
      return [{ name: c.name, text, body }];
    });
}

function readAnswer(text: string) {
  const result = member(parseJson(text), 'result');
  if (!result) throw new Error('no result');
  return readPeekResult(text, result);
}

describe.each(['odoo17', 'odoo19'])("readPeekResult on Odoo's recorded answers (%s)", (version) => {
  const answers = peekAnswers(version);

  it('covers the recorded answers', () => {
    expect(answers.length).toBeGreaterThanOrEqual(15);
  });

  for (const { name, text, body } of answers) {
    it(name, () => {
      const peek = readAnswer(text);
      expect(peek.channels).toEqual(body.result?.channels.map((ch) => pythonDumps(ch)));
      expect(peek.database).toBe(version);
      expect(peek.notifications.map((n) => n.id)).toEqual(
        body.result?.notifications.map((n) => n.id).sort((a, b) => a - b),
      );
      for (const n of peek.notifications) {
        const original = body.result?.notifications.find((o) => o.id === n.id);
        expect(JSON.parse(n.message)).toEqual(original?.message);
      }
    });
  }

  it('gives each channel the exact text Odoo writes in bus_bus.channel', () => {
    // Same value, same text: a subscription key matches the rows of its channel byte for byte.
    const rowText = new Map<string, string>();
    for (const action of readFixture<BusRows>(version, 'bus-rows.json').actions) {
      for (const row of action.rows)
        rowText.set(JSON.stringify(JSON.parse(row.channel)), row.channel);
    }
    const matched = new Set<string>();
    for (const { text } of answers) {
      for (const key of readAnswer(text).channels) {
        const written = rowText.get(JSON.stringify(JSON.parse(key)));
        if (written === undefined) continue;
        expect(key).toBe(written);
        matched.add(key);
      }
    }
    expect(matched.size).toBeGreaterThanOrEqual(4);
    expect(matched).toContain(`["${version}","discuss.channel",1]`);
    expect(matched).toContain(`["${version}","res.partner",3]`);
  });
});

describe('readPeekResult on 19 specifics', () => {
  const answers = peekAnswers('odoo19');
  const keysOf = (name: string) =>
    readAnswer(answers.find((a) => a.name === name)?.text ?? '').channels;

  it('keeps presence, internal_users and group channels as Odoo 19 writes them', () => {
    const keys = keysOf('admin_peek_presence_valid_token');
    expect(keys).toContain('["odoo19","res.partner",3,"presence"]');
    expect(keys).toContain('["odoo19","res.partner",6,"presence"]');
    expect(keys).toContain('["odoo19","discuss.channel",1,"internal_users"]');
    expect(keys).toContain('["odoo19","res.groups",1]');
  });

  it('escapes the raw UTF-8 of a string channel as bus_bus stores it', () => {
    // Odoo answered "canal-é" raw; the rows of S_non_ascii_channels store it \u-escaped.
    expect(keysOf('admin_peek_arbitrary_strings')).toContain('["odoo19","canal-\\u00e9"]');
  });
});

describe('readPeekResult', () => {
  it('turns raw UTF-8 channel names into the escaped text stored in bus_bus', () => {
    const text = '{"result": {"channels": [["odoo17", "canal-é"]], "notifications": []}}';
    const peek = readPeekResult(text, member(parseJson(text), 'result') as never);
    expect(peek.channels).toEqual([canonicalJson('["odoo17","canal-\\u00e9"]')]);
  });
});
