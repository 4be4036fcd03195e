import { describe, expect, it } from 'vitest';
import { canonicalJson, pythonDumps, pythonQuote } from '../../../src/json/pythonJson.js';
import { readFixture } from '../../helpers/fixtures.js';

interface EncodingFixture {
  channels: Array<{ bus_bus_channel_text: string; decoded_value: unknown }>;
  message_column_example: { bus_bus_message_text: string };
  sql_text_equality_checks: Array<{ literal: string; rows_matching_text_equality: number }>;
  peek_notifications_raw_response_snippets: unknown;
}

const encoding = readFixture<EncodingFixture>('odoo17', 'channel-encoding.json');

describe('pythonDumps reproduces what Odoo 17 wrote in bus_bus.channel', () => {
  for (const row of encoding.channels) {
    it(row.bus_bus_channel_text, () => {
      expect(pythonDumps(row.decoded_value)).toBe(row.bus_bus_channel_text);
    });
  }
});

describe('canonicalJson', () => {
  it('is the identity on every recorded channel text', () => {
    for (const row of encoding.channels) {
      expect(canonicalJson(row.bus_bus_channel_text)).toBe(row.bus_bus_channel_text);
    }
  });

  it('keeps the recorded message text byte for byte (big ints, -0.0, surrogate pairs)', () => {
    const text = encoding.message_column_example.bus_bus_message_text;
    expect(canonicalJson(text)).toBe(text);
  });

  it('turns each spelling PostgreSQL matched by jsonb into the one it matched by text', () => {
    const matching = encoding.sql_text_equality_checks.find(
      (c) => c.rows_matching_text_equality > 0,
    );
    expect(matching).toBeDefined();
    for (const check of encoding.sql_text_equality_checks) {
      expect(canonicalJson(check.literal)).toBe(matching?.literal);
    }
  });

  it("converts Odoo's JSON-RPC spelling (spaces, raw UTF-8) of a channel", () => {
    expect(canonicalJson('["odoo17", "canal-é"]')).toBe('["odoo17","canal-\\u00e9"]');
    expect(canonicalJson('["db", "x", 2.0, 9007199254740993]')).toBe(
      '["db","x",2.0,9007199254740993]',
    );
  });

  it('rejects invalid JSON', () => {
    for (const bad of ['', '[', '["a",]', "['a']", '[1] x', '"\\x"', '{"a"}', '01', '[NaN]']) {
      expect(() => canonicalJson(bad), bad).toThrow();
    }
  });
});

describe('pythonQuote', () => {
  it('escapes DEL and leaves / alone, like Python', () => {
    expect(pythonQuote('a/\u007f')).toBe('"a/\\u007f"');
  });
  it('without ensure_ascii keeps non-ASCII raw but still escapes controls', () => {
    expect(pythonQuote('é\u0001"', false)).toBe('"é\\u0001\\""');
  });
});

describe('pythonDumps numbers', () => {
  it('follows float repr', () => {
    expect(pythonDumps([7.5, 0.1 + 0.2, -0, 1.5e-7, 1e-5, 123])).toBe(
      '[7.5,0.30000000000000004,-0.0,1.5e-07,1e-05,123]',
    );
  });
  it('has a non-compact mode matching json.dumps defaults', () => {
    expect(pythonDumps({ a: [1, 'é'] }, { compact: false, ensureAscii: false })).toBe(
      '{"a": [1, "é"]}',
    );
  });
});
