import { describe, expect, it } from 'vitest';
import { MAX_BUS_ID, parseBusId } from '../../../src/bus/busId.js';

describe('parseBusId', () => {
  it('takes int4 numbers and int8 text up to 2^53 - 1 exactly', () => {
    expect(parseBusId(42)).toBe(42);
    expect(parseBusId('2147483650')).toBe(2_147_483_650);
    expect(parseBusId(String(MAX_BUS_ID))).toBe(MAX_BUS_ID);
  });

  it('refuses what a JSON client cannot represent, and what is not an id', () => {
    for (const bad of [
      '9007199254740992',
      '99999999999999999999',
      '1.5',
      '',
      'x',
      null,
      2 ** 53,
      1.5,
    ])
      expect(parseBusId(bad)).toBeUndefined();
  });
});
