/**
 * The client-message check under arbitrary input: deep and wide JSON, message look-alikes, text
 * that is not JSON. It never throws, accepts only the exact shapes, and what it accepts can always
 * be sent on to Odoo (serialized without error, within the caps).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_DEPTH, nestsDeeperThan } from '../../../src/json/depth.js';
import {
  type MessageLimits,
  readClientMessage,
} from '../../../src/transports/websocket/clientMessage.js';
import { presenceParams } from '../../../src/transports/websocket/odooSocket.js';

const LIMITS: MessageLimits = { maxChannels: 50, maxChannelLength: 40, maxSubscribeBytes: 4096 };

/** JSON nested `depth` deep, by text (a value this deep cannot be built and stringified). */
const deepJson = fc
  .tuple(
    fc.integer({ min: 1, max: 20_000 }),
    fc.constantFrom(['[', ']'], ['{"k":', '}'], ['{"im_status_ids_by_model":', '}']),
    fc.constantFrom('1', '"x"', '[]', '{}', 'null'),
  )
  .map(([levels, [open, close], inner]) => ({
    // An empty array or object inside is one level more.
    depth: levels + (inner === '[]' || inner === '{}' ? 1 : 0),
    text: `${(open as string).repeat(levels)}${inner}${(close as string).repeat(levels)}`,
  }));

/** Values as wide as the caps and past them. */
const wideValue = fc.oneof(
  fc.array(fc.string({ maxLength: 60 }), { maxLength: 80 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.array(fc.integer(), { maxLength: 40 }), {
    maxKeys: 40,
  }),
  fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 100 }),
);

const lookAlike = fc.record(
  {
    event_name: fc.oneof(fc.constantFrom('subscribe', 'update_presence', 'x'), fc.jsonValue()),
    data: fc.oneof(
      fc.record(
        {
          channels: fc.oneof(wideValue, fc.jsonValue()),
          last: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
        },
        { requiredKeys: [] },
      ),
      fc.record(
        {
          inactivity_period: fc.oneof(fc.nat(), fc.double(), fc.jsonValue()),
          im_status_ids_by_model: fc.oneof(wideValue, fc.jsonValue()),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
);

/** The shapes real clients send, with values of every size around the caps. */
const wellShaped = fc.oneof(
  fc.record({
    event_name: fc.constant('subscribe'),
    data: fc.record({
      channels: fc.array(fc.string({ maxLength: 45 }), { maxLength: 55 }),
      last: fc.integer(),
    }),
  }),
  fc.record({
    event_name: fc.constant('update_presence'),
    data: fc.record(
      {
        inactivity_period: fc.nat(),
        im_status_ids_by_model: fc.dictionary(fc.string(), fc.array(fc.nat())),
      },
      { requiredKeys: ['inactivity_period'] },
    ),
  }),
);

const messageText = fc.oneof(
  wellShaped.map((m) => JSON.stringify(m)),
  lookAlike.map((m) => JSON.stringify(m)),
  deepJson.map((d) => d.text),
  deepJson.map(
    (d) =>
      `{"event_name":"update_presence","data":{"inactivity_period":0,"im_status_ids_by_model":${d.text}}}`,
  ),
  deepJson.map((d) => `{"event_name":"subscribe","data":{"channels":${d.text},"last":0}}`),
  fc.json(),
  fc.string(),
);

describe('client messages (fuzz)', () => {
  it('never throws, and whatever it accepts has the exact shape and fits the caps', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(messageText, (text) => {
        const message = readClientMessage(text, Buffer.byteLength(text), LIMITS);
        seen.set(message.kind, (seen.get(message.kind) ?? 0) + 1);
        switch (message.kind) {
          case 'subscribe':
            expect(message.channels.length).toBeLessThanOrEqual(LIMITS.maxChannels);
            expect(Buffer.byteLength(text)).toBeLessThanOrEqual(LIMITS.maxSubscribeBytes);
            for (const channel of message.channels) {
              expect(typeof channel).toBe('string');
              expect(channel.length).toBeLessThanOrEqual(LIMITS.maxChannelLength);
            }
            expect(Number.isSafeInteger(message.last)).toBe(true);
            break;
          case 'update_presence': {
            const { inactivity_period: inactivity, im_status_ids_by_model: ids } = message.data;
            expect(Number.isFinite(inactivity) && inactivity >= 0).toBe(true);
            for (const list of Object.values(ids ?? {}))
              for (const id of list) expect(Number.isSafeInteger(id)).toBe(true);
            // What goes to Odoo serializes, for every generation.
            for (const major of [16, 17, 18, 19, undefined])
              expect(() => JSON.stringify(presenceParams(message.data, major))).not.toThrow();
            break;
          }
          case 'other':
            expect(typeof message.event).toBe('string');
            break;
          case 'refused':
            expect(typeof message.reason).toBe('string');
        }
        if (nestsDeeperThan(text, MAX_MESSAGE_DEPTH)) {
          expect(message).toMatchObject({ kind: 'refused', reason: 'too-deep' });
        }
      }),
      { numRuns: 3000 },
    );
    // The runs reached every outcome, accepted shapes included.
    expect([...seen.keys()].sort()).toEqual(['other', 'refused', 'subscribe', 'update_presence']);
  });

  it('measures depth as JSON.parse nests: refused exactly past the limit', () => {
    fc.assert(
      fc.property(deepJson, ({ depth, text }) => {
        expect(nestsDeeperThan(text, MAX_MESSAGE_DEPTH)).toBe(depth > MAX_MESSAGE_DEPTH);
      }),
      { numRuns: 500 },
    );
  });
});
