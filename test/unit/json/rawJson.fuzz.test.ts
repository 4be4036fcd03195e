import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, pythonDumps } from '../../../src/json/pythonJson.js';
import { JsonSyntaxError, parseJson } from '../../../src/json/rawJson.js';

describe('parseJson (fuzz)', () => {
  it('accepts exactly what JSON.parse accepts, on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))),
        ),
        (text) => {
          let native = true;
          try {
            JSON.parse(text);
          } catch {
            native = false;
          }
          let ours = true;
          try {
            parseJson(text);
          } catch (error) {
            expect(error).toBeInstanceOf(JsonSyntaxError);
            ours = false;
          }
          expect(ours).toBe(native);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('re-emits any JSON value as the same value, in Python spelling', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const canonical = canonicalJson(text);
        expect(JSON.parse(canonical)).toEqual(JSON.parse(text));
        expect(canonical).toMatch(/^[\x20-\x7e]*$/);
        expect(canonicalJson(canonical)).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with pythonDumps on values without floats', () => {
    fc.assert(
      fc.property(
        fc.jsonValue().filter((v) => !JSON.stringify(v).match(/[.eE]/)),
        (generated) => {
          // Through JSON first: -0 has no JSON spelling in JavaScript.
          const value: unknown = JSON.parse(JSON.stringify(generated));
          expect(canonicalJson(JSON.stringify(value))).toBe(pythonDumps(value));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses hostile nesting instead of overflowing the stack', () => {
    expect(() => parseJson('['.repeat(100_000))).toThrow(JsonSyntaxError);
  });
});
