/** Which build runs: the package's version (read once from its package.json) and Node's. */
import { readFileSync } from 'node:fs';

function packageVersion(): string {
  try {
    // src/observability/ and dist/observability/ are both two levels below the package root.
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const BUILD = Object.freeze({
  version: packageVersion(),
  node: process.version,
});
