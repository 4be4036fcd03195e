import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HoleJournal, journalDirectory, journalFile } from '../../../src/bus/journal.js';
import { createLogger } from '../../../src/observability/logger.js';

const logger = createLogger('silent');
const dirs: string[] = [];
function dir(): string {
  const made = mkdtempSync(join(tmpdir(), 'journal-test-'));
  dirs.push(made);
  return made;
}
afterEach(() => {
  for (const made of dirs.splice(0)) rmSync(made, { recursive: true, force: true });
});

describe('HoleJournal', () => {
  it('keeps holes across processes, minus the time spent stopped', () => {
    const file = join(dir(), 'holes.json');
    new HoleJournal(file, logger).save(
      'db',
      '16384',
      [
        [10, 5000],
        [11, 5000],
        [12, 5000],
        [40, 200],
      ],
      1_000_000,
    );
    expect(JSON.parse(readFileSync(file, 'utf8')).holes).toEqual([
      [10, 3, 5000],
      [40, 1, 200],
    ]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(new HoleJournal(file, logger).load('db', '16384', 1_000_500)).toEqual([
      [10, 4500],
      [11, 4500],
      [12, 4500],
    ]);
  });

  it('ignores another database (re-created: other oid), a malformed file, a missing file', () => {
    const file = join(dir(), 'holes.json');
    const journal = new HoleJournal(file, logger);
    expect(journal.load('db', '1', 0)).toEqual([]);
    journal.save('db', '1', [[5, 1000]], 0);
    expect(journal.load('db', '2', 0)).toEqual([]);
    expect(journal.load('other', '1', 0)).toEqual([]);
    writeFileSync(file, '{"format":1,"holes":"x"}');
    expect(journal.load('db', '1', 0)).toEqual([]);
    writeFileSync(file, '{not json');
    expect(journal.load('db', '1', 0)).toEqual([]);
  });

  it('gives no extra time when the wall clock went back while stopped', () => {
    const file = join(dir(), 'holes.json');
    new HoleJournal(file, logger).save('db', '1', [[5, 1000]], 10_000);
    expect(new HoleJournal(file, logger).load('db', '1', 5_000)).toEqual([[5, 1000]]);
  });
});

describe('journalDirectory', () => {
  it('is off for `off` and for a throwaway instance (port 0) without a setting', () => {
    expect(journalDirectory('off', 8072, logger)).toBeUndefined();
    expect(journalDirectory(undefined, 0, logger)).toBeUndefined();
  });

  it('uses a configured directory, creating it', () => {
    const target = join(dir(), 'state', 'deep');
    expect(journalDirectory(target, 0, logger)).toBe(target);
    expect(statSync(target).isDirectory()).toBe(true);
  });

  it('names one file per port, worker and database', () => {
    const names = new Set([
      journalFile('/d', 8072, 0, 'a'),
      journalFile('/d', 8072, 1, 'a'),
      journalFile('/d', 8073, 0, 'a'),
      journalFile('/d', 8072, 0, 'a/b'),
      journalFile('/d', 8072, 0, 'a_b'),
    ]);
    expect(names.size).toBe(5);
  });
});
