/**
 * The process's limit of open files (`RLIMIT_NOFILE`, soft), which every socket counts against.
 * Node has no getrlimit: on Linux it is read from `/proc/self/limits` (Node itself raises the soft
 * limit to the hard one at start); elsewhere a conservative value is assumed.
 */
import { readFileSync } from 'node:fs';

export const ASSUMED_OPEN_FILES = 4096;

export function parseOpenFileLimit(limits: string): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined) return undefined;
  if (soft === 'unlimited') return Number.POSITIVE_INFINITY;
  const value = Number(soft);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

export function openFileLimit(): { limit: number; known: boolean } {
  try {
    const limit = parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
    if (limit !== undefined) return { limit, known: true };
  } catch {}
  return { limit: ASSUMED_OPEN_FILES, known: false };
}
