/**
 * The sidecar's version: the `version` of `package.json`, one directory above both `src/` (run by
 * tsx) and `dist/` (the build), and present in every install (npm needs it).
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  const manifest = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as { version?: unknown };
  if (typeof manifest.version !== 'string') throw new Error('package.json has no version');
  return manifest.version;
}

export const VERSION = readVersion();
