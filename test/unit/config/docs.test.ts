import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replaceConfigTable } from '../../../src/config/docs.js';

describe('README configuration table', () => {
  it('is the one generated from the settings (run `npm run docs:config` after changing them)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(replaceConfigTable(readme)).toBe(readme);
  });
});
