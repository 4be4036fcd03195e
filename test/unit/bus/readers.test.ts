/**
 * NOTIFY routing: an `imbus` payload nudges the readers of the databases its channels name, and
 * every reader when one channel names none (Odoo 12-14 channels are plain strings).
 */
import { describe, expect, it } from 'vitest';
import { parseImbusPayload } from '../../../src/bus/notifyPayload.js';
import { notifiedDatabases } from '../../../src/bus/readers.js';

const route = (payload: string) => notifiedDatabases(parseImbusPayload(payload));

describe('notifiedDatabases', () => {
  it('names each database of the channels once (Odoo 15+ channels start with it)', () => {
    expect(
      route(
        '[["odoo17", "res.partner", 3], ["odoo17", "broadcast"], ["other", "discuss.channel", 1]]',
      ),
    ).toEqual(new Set(['odoo17', 'other']));
  });

  it('nudges every reader for a channel without a database', () => {
    expect(route('["broadcast"]')).toBe('every');
    expect(route('[["odoo17", "res.partner", 3], "res.partner"]')).toBe('every');
    expect(route('[[3, "res.partner"]]')).toBe('every');
  });

  it('nudges no reader for an empty payload', () => {
    expect(route('[]')).toEqual(new Set());
  });
});
