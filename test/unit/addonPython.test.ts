/**
 * Checks of the Python addon that need no Odoo: every file compiles, stays within Python 3.5
 * syntax (Odoo 12.0 runs on 3.5: no f-strings, no variable annotations), and passes pyflakes
 * (Debian package python3-pyflakes) with the OCA habit of allowing unused imports in
 * `__init__.py`. PYTHON names the interpreter (default python3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const addons = resolve(root, 'odoo-addon');
const files = readdirSync(addons, { recursive: true, encoding: 'utf8' })
  .filter((path) => path.endsWith('.py') && !path.split(/[\\/]/).includes('__pycache__'))
  .sort()
  .map((path) => join(addons, path));

const cache = mkdtempSync(join(tmpdir(), 'addon-pycache-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

function python(args: string[], interpreter = process.env.PYTHON ?? 'python3') {
  const run = spawnSync(interpreter, args, {
    encoding: 'utf8',
    // Compiled files go to a temporary folder, never beside the sources.
    env: { ...process.env, PYTHONPYCACHEPREFIX: cache, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.error) throw new Error(`cannot run ${interpreter}: ${run.error.message}`);
  return run;
}

/** An interpreter that can import pyflakes: $PYTHON, python3, or Debian's own python3. */
function pyflakesInterpreter(): string {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ['-c', 'import pyflakes'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return candidate;
  }
  throw new Error(
    'pyflakes is not installed: apt-get install python3-pyflakes, or set PYTHON to an interpreter that has it',
  );
}

describe('the Python addon', () => {
  it('has Python files', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('compiles (python3 -m py_compile)', () => {
    const run = python(['-m', 'py_compile', ...files]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('keeps to Python 3.5 syntax', () => {
    const script = [
      'import ast, sys',
      'for path in sys.argv[1:]:',
      '    with open(path, encoding="utf-8") as source:',
      '        try:',
      '            ast.parse(source.read(), path, feature_version=(3, 5))',
      '        except SyntaxError as error:',
      '            print("%s:%s: %s" % (path, error.lineno, error.msg))',
    ].join('\n');
    const run = python(['-c', script, ...files]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('');
  });

  it('passes pyflakes', () => {
    const run = python(['-m', 'pyflakes', ...files], pyflakesInterpreter());
    expect(run.stderr).toBe('');
    const problems = run.stdout
      .split('\n')
      .filter((line) => line !== '')
      .filter((line) => !/[\\/]__init__\.py:\d+:\d+:? .* imported but unused/.test(line));
    expect(problems).toEqual([]);
  });
});
