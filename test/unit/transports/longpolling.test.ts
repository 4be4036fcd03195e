/**
 * The pieces of long polling that need no server: reading the addon's answer, the bytes of an
 * answer per version, and which rows a waiting poll takes.
 */
import { describe, expect, it } from 'vitest';
import type { BusRow } from '../../../src/bus/types.js';
import { EncodedBatch } from '../../../src/hub/encodedBatch.js';
import { parseJson } from '../../../src/json/rawJson.js';
import { readPollAnswer } from '../../../src/odoo/pollAnswer.js';
import { HandOff } from '../../../src/transports/handOff.js';
import { deliverable } from '../../../src/transports/longpolling/catchUp.js';
import {
  batchPayload,
  idJson,
  itemJson,
  resultEnvelope,
} from '../../../src/transports/longpolling/envelope.js';
import type { PollSession } from '../../../src/transports/longpolling/sessions.js';

function row(id: number, extra: Partial<BusRow> = {}): BusRow {
  return {
    id,
    channel: '["db","res.partner",3]',
    message: '{"type":"t","payload":"\\u00e9"}',
    readAt: 0,
    seq: id,
    ...extra,
  };
}

/** A session whose browser got `expected` from Odoo's catch-up before the reader read them. */
function session(seq: number | undefined, expected: number[] = []): PollSession {
  const handOff = new HandOff();
  const early = new Map(expected.map((id) => [id, 0]));
  handOff.adopt({ database: 'db', upTo: 0, early, late: new Map() });
  return { hash: 'h', db: 'db', seq, handOff, presence: undefined, seenAt: 0 };
}

describe("the addon's answer", () => {
  it('gives subscription keys in Python text and keeps each item as Odoo wrote it', () => {
    // As a running Odoo 15.0 with the addon answered (Python separators, ensure_ascii).
    const text =
      '{"jsonrpc": "2.0", "id": 10, "result": {"db": "lp15t", "channels": [["lp15t", "res.partner", 3], ["lp15t", "caf\\u00e9"]], "notifications": [{"id": 1, "message": {"type": "t", "payload": {"body": "h\\u00e9llo"}}}], "version": 15}}';
    const root = parseJson(text);
    const result =
      root.kind === 'object' ? root.entries.find(([k]) => k === 'result')?.[1] : undefined;
    const answer = readPollAnswer(text, result as NonNullable<typeof result>);
    expect(answer.db).toBe('lp15t');
    expect(answer.keys).toEqual(['["lp15t","res.partner",3]', '["lp15t","caf\\u00e9"]']);
    expect(answer.channelsText).toBe('[["lp15t", "res.partner", 3], ["lp15t", "caf\\u00e9"]]');
    expect(answer.notifications).toEqual([
      { id: 1, text: '{"id": 1, "message": {"type": "t", "payload": {"body": "h\\u00e9llo"}}}' },
    ]);
    expect(answer.version).toBe(15);
  });
});

describe('answers', () => {
  it('carry the channel up to 14.0 and not in 15.0, with stored texts spliced in', () => {
    expect(itemJson(row(5), true)).toBe(
      '{"id":5,"channel":["db","res.partner",3],"message":{"type":"t","payload":"\\u00e9"}}',
    );
    expect(itemJson(row(5), false)).toBe('{"id":5,"message":{"type":"t","payload":"\\u00e9"}}');
  });

  it('encode a batch once per shape, shared by every poll it answers', () => {
    const batch = new EncodedBatch([row(1), row(2)]);
    expect(batchPayload(batch, false)).toBe(batch.payload);
    const legacy = batchPayload(batch, true);
    expect(batchPayload(batch, true)).toBe(legacy);
    expect(JSON.parse(legacy.toString('utf8'))).toEqual([
      { id: 1, channel: ['db', 'res.partner', 3], message: { type: 't', payload: 'é' } },
      { id: 2, channel: ['db', 'res.partner', 3], message: { type: 't', payload: 'é' } },
    ]);
  });

  it("echo the request's id as Python would, in Odoo's envelope", () => {
    expect(resultEnvelope(idJson(7), '[]').toString()).toBe(
      '{"jsonrpc": "2.0", "id": 7, "result": []}',
    );
    expect(idJson('é')).toBe('"\\u00e9"');
    expect(idJson(undefined)).toBe('null');
  });
});

describe('a waiting poll takes', () => {
  it('rows above its `last`, except ids its browser already got from Odoo', () => {
    expect(deliverable(row(11), 10, undefined)).toBe(true);
    expect(deliverable(row(10), 10, undefined)).toBe(false);
    expect(deliverable(row(11), 10, session(5, [11]))).toBe(false);
  });

  it('a late row below `last` only when the previous poll of its session was answered here', () => {
    expect(deliverable(row(8, { late: true }), 10, session(5))).toBe(true);
    expect(deliverable(row(8, { late: true }), 10, session(undefined))).toBe(false);
    expect(deliverable(row(8, { late: true }), 10, undefined)).toBe(false);
    expect(deliverable(row(8), 10, session(5))).toBe(false);
  });
});
