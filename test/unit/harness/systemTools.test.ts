import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DEBIAN_PACKAGES,
  MissingSystemToolError,
  missingToolsMessage,
  type SystemToolName,
} from '../../helpers/servers/systemTools.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const names = Object.keys(DEBIAN_PACKAGES) as SystemToolName[];

describe('missing system tools', () => {
  it('are reported in one line that names the Debian package of each', () => {
    const message = missingToolsMessage(['pgbouncer', 'nginx']);
    expect(message).not.toContain('\n');
    expect(message).toMatch(/apt-get install pgbouncer nginx-light\b/);
    const error = new MissingSystemToolError(names);
    expect(error.stack).not.toContain('\n');
    for (const name of names) expect(error.message).toContain(DEBIAN_PACKAGES[name]);
  });

  it('are the packages .ci/run installs when they are missing', () => {
    const ciRun = readFileSync(join(root, '.ci/run'), 'utf8');
    for (const name of names) {
      expect(ciRun, DEBIAN_PACKAGES[name]).toMatch(
        new RegExp(`missing\\+=\\(${DEBIAN_PACKAGES[name]}\\)`),
      );
    }
  });
});
