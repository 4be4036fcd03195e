/**
 * The hub is registry and fan-out only: it does no I/O, so it imports neither the readers nor the
 * database layer (the readers call it, `sidecar.ts` wires them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const HUB = join(import.meta.dirname, '../../../src/hub');
const FORBIDDEN = [
  /\/bus\/reader(s|Start|View)?\.js'/,
  /\/bus\/journal\.js'/,
  /\/bus\/notifyPayload\.js'/,
  /\/db\//,
];

function importsOf(source: string): string[] {
  return [...source.matchAll(/^(?:import|export)\s[^;]*?'([^']+)';/gms)].map(
    (match) => `'${match[1]}'`,
  );
}

describe('src/hub', () => {
  it('imports no reader, journal, NOTIFY parsing or database module', () => {
    const offending: string[] = [];
    for (const file of readdirSync(HUB)) {
      if (!file.endsWith('.ts')) continue;
      for (const target of importsOf(readFileSync(join(HUB, file), 'utf8')))
        if (FORBIDDEN.some((pattern) => pattern.test(target)))
          offending.push(`${file} → ${target}`);
    }
    expect(offending).toEqual([]);
  });

  it('finds the imports it checks', () => {
    expect(
      importsOf("import { a } from '../bus/reader.js';\nimport type {\n  b,\n} from '../db/x.js';"),
    ).toEqual(["'../bus/reader.js'", "'../db/x.js'"]);
  });
});
