/**
 * The addon (`odoo-addon/bus_sidecar/contract.py`) and the sidecar (`src/odoo/addonContract.ts`)
 * must declare the same contract: same names, same values, the same session hash and the same
 * signature of a revocation, computed by running the addon's Python code.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as contract from '../../src/odoo/addonContract.js';
import { revocationSignature } from '../../src/odoo/revocation.js';
import { sessionHash } from '../../src/odoo/sessionHash.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const contractPy = resolve(root, 'odoo-addon/bus_sidecar/contract.py');
const python = process.env.PYTHON ?? 'python3';

/** The top-level `NAME = 'text'` / `NAME = 123` assignments of a Python source. */
function pythonConstants(source: string): Map<string, string | number> {
  const constants = new Map<string, string | number>();
  for (const [, name = '', literal = ''] of source.matchAll(/^([A-Z][A-Z0-9_]*) = (.*)$/gm)) {
    const text = /^'([^'\\]*)'$/.exec(literal) ?? /^"([^"\\]*)"$/.exec(literal);
    if (text) {
      constants.set(name, text[1] ?? '');
    } else if (/^\d+$/.test(literal)) {
      constants.set(name, Number(literal));
    } else {
      throw new Error(`contract.py: ${name} is not a plain string or integer literal: ${literal}`);
    }
  }
  return constants;
}

describe('contract.py declares what addonContract.ts declares', () => {
  const python = pythonConstants(readFileSync(contractPy, 'utf8'));
  const typescript = new Map(Object.entries(contract));

  it('with the same names', () => {
    expect([...python.keys()].sort()).toEqual([...typescript.keys()].sort());
  });

  for (const [name, value] of typescript) {
    it(`${name} = ${JSON.stringify(value)}`, () => {
      expect(python.get(name)).toBe(value);
    });
  }
});

/** Runs `expression` (over `module`, the loaded contract.py, and `cases`) and returns its JSON. */
function runContract(expression: string, cases: unknown): unknown {
  const script = [
    'import importlib.util, json, sys',
    "spec = importlib.util.spec_from_file_location('contract', sys.argv[1])",
    'module = importlib.util.module_from_spec(spec)',
    'spec.loader.exec_module(module)',
    'cases = json.loads(sys.argv[2])',
    `print(json.dumps(${expression}))`,
  ].join('\n');
  const run = spawnSync(python, ['-c', script, contractPy, JSON.stringify(cases)], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  expect(run.error, `cannot run ${python}`).toBeUndefined();
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout);
}

describe('session_hash of contract.py is sessionHash of the sidecar', () => {
  const sids = [
    // Odoo 16/17: 40 hexadecimal characters, hashed whole
    '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c',
    // Odoo 18+: 84 base64url characters, of which the first 42 are the session identifier
    'Zm9vYmFyLWJhei1xdXV4LWNvcmdlLWdyYXVsdC1nYXJwbHktd2FsZG8tZnJlZC1wbHVnaC14eXp6eS10aHVk',
    'Zm9vYmFyLWJhei1xdXV4LWNvcmdlLWdyYXVsdC1nYX',
    'deadbeef',
    '',
  ];

  it('for every kind of session id', () => {
    expect(runContract('[module.session_hash(sid) for sid in cases]', sids)).toEqual(
      sids.map(sessionHash),
    );
  });
});

describe('revocation_signature of contract.py is revocationSignature of the sidecar', () => {
  const cases: Array<[string, string, string[], number[]]> = [
    ['s3cret', 'odoo17', [sessionHash('a'.repeat(40))], []],
    ['s3cret', 'odoo17', [], [7]],
    ['s3cret', 'odoo17', [], []],
    // Surrounding whitespace is not part of the secret, on either side.
    [' s3cret\n', 'odoo17', [sessionHash('b'.repeat(84)), sessionHash('c'.repeat(84))], [3, 7]],
    // Non-ASCII and JSON-escaped characters in the database name and the secret.
    ['clé-🔑', 'bäse "prod"\\x', [], [1, 2, 2147483647]],
    ['another', 'odoo19', Array.from({ length: 100 }, (_, i) => sessionHash(String(i))), [9]],
  ];

  it('for the same inputs', () => {
    expect(
      runContract(
        '[module.revocation_signature(secret, db, sessions, partners) for secret, db, sessions, partners in cases]',
        cases,
      ),
    ).toEqual(cases.map((args) => revocationSignature(...args)));
  });

  it('which differs with any field or the secret', () => {
    const base = revocationSignature('k', 'db', ['h'], [7]);
    expect(revocationSignature('k2', 'db', ['h'], [7])).not.toBe(base);
    expect(revocationSignature('k', 'db2', ['h'], [7])).not.toBe(base);
    expect(revocationSignature('k', 'db', ['h2'], [7])).not.toBe(base);
    expect(revocationSignature('k', 'db', ['h'], [8])).not.toBe(base);
    expect(revocationSignature('k', 'db', [], [7])).not.toBe(base);
  });
});
