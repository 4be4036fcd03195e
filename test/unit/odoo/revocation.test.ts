import { describe, expect, it } from 'vitest';
import { parseRevocation } from '../../../src/odoo/revocation.js';

describe('parseRevocation', () => {
  it("reads the addon's payload and derives the partners' channel keys", () => {
    const r = parseRevocation('{"db":"odoo17","partners":[7,"x"],"sessions":["ab",3]}');
    expect(r?.db).toBe('odoo17');
    expect([...(r?.sessions ?? [])]).toEqual(['ab']);
    expect(r?.partners).toEqual([7]);
    expect([...(r?.partnerKeys ?? [])]).toEqual(['["odoo17","res.partner",7]']);
  });

  it('refuses what is not a JSON object; names no partner key without a database', () => {
    for (const bad of ['not json', '[1]', 'null', '"x"'])
      expect(parseRevocation(bad)).toBeUndefined();
    expect(parseRevocation('{"partners":[7]}')?.partnerKeys.size).toBe(0);
  });
});
