import { describe, expect, it } from 'vitest';
import { readRevocation, revocationSignature } from '../../../src/odoo/revocation.js';

const SECRET = 's3cret';
const servesAll = () => true;

function signed(fields: { db: string; sessions: string[]; partners: number[] }, secret = SECRET) {
  return JSON.stringify({
    ...fields,
    sig: revocationSignature(secret, fields.db, fields.sessions, fields.partners),
  });
}

describe('readRevocation', () => {
  it("reads a signed payload of the addon and derives the partners' channel keys", () => {
    const reading = readRevocation(
      signed({ db: 'odoo17', sessions: ['ab'], partners: [7] }),
      SECRET,
      servesAll,
    );
    expect(reading.outcome).toBe('applied');
    if (!('revocation' in reading)) throw new Error('not applied');
    expect(reading.revocation.db).toBe('odoo17');
    expect([...reading.revocation.sessions]).toEqual(['ab']);
    expect(reading.revocation.partners).toEqual([7]);
    expect([...reading.revocation.partnerKeys]).toEqual(['["odoo17","res.partner",7]']);
  });

  it('refuses a payload that is unsigned, signed with another secret, or altered', () => {
    const fields = { db: 'odoo17', sessions: [], partners: [7] };
    expect(readRevocation(JSON.stringify(fields), SECRET, servesAll).outcome).toBe('unsigned');
    expect(readRevocation(signed(fields, 'other'), SECRET, servesAll).outcome).toBe(
      'bad_signature',
    );
    const altered = JSON.parse(signed(fields)) as Record<string, unknown>;
    altered.partners = [3];
    expect(readRevocation(JSON.stringify(altered), SECRET, servesAll).outcome).toBe(
      'bad_signature',
    );
    // A second "db" key is what JSON.parse keeps: the signature covers the value acted upon.
    const twice = `${signed(fields).slice(0, -1)},"db":"odoo19"}`;
    expect(readRevocation(twice, SECRET, servesAll).outcome).toBe('bad_signature');
    expect(
      readRevocation(JSON.stringify({ ...fields, sig: 'ab'.repeat(32) }), SECRET, servesAll)
        .outcome,
    ).toBe('bad_signature');
  });

  it('takes a payload as it is when no secret is configured, still only with a database', () => {
    expect(readRevocation('{"db":"odoo17","partners":[7]}', undefined, servesAll).outcome).toBe(
      'unverified',
    );
    expect(readRevocation('{"partners":[7]}', undefined, servesAll).outcome).toBe('no_database');
    expect(readRevocation('{"db":"","sessions":["h"]}', undefined, servesAll).outcome).toBe(
      'no_database',
    );
    expect(readRevocation('{"db":null,"sessions":["h"]}', SECRET, servesAll).outcome).toBe(
      'no_database',
    );
  });

  it('refuses what is not the addon’s payload', () => {
    for (const bad of [
      'not json',
      '[1]',
      'null',
      '"x"',
      '{"db":7,"partners":[7]}',
      '{"db":"odoo17","partners":[7,"x"]}',
      '{"db":"odoo17","partners":[1.5]}',
      '{"db":"odoo17","partners":[-1]}',
      '{"db":"odoo17","partners":[9007199254740993]}',
      '{"db":"odoo17","sessions":["ab",3]}',
      '{"db":"odoo17","sessions":"ab"}',
      '{"db":"odoo17","sessions":[],"sig":7}',
    ])
      expect(readRevocation(bad, undefined, servesAll).outcome, bad).toBe('malformed');
  });

  it('leaves the databases not served aside before checking any signature', () => {
    const reading = readRevocation(
      '{"db":"elsewhere","partners":[7],"sig":"00"}',
      SECRET,
      (db) => db === 'odoo17',
    );
    expect(reading).toEqual({ outcome: 'other_database', db: 'elsewhere' });
  });
});
