/**
 * The odoo.conf snippet of the README's deployment section is what an admin copies: given to the
 * sidecar as it is, it must configure both sides (the shared secret, proxy trust, calls below
 * Odoo's workers), and the README's way to run the sidecar must be the built service.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

function section(heading: string): string {
  const start = readme.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const next = readme.indexOf('\n#', start + heading.length);
  return readme.slice(start, next < 0 ? undefined : next);
}

describe("the README's odoo.conf snippet", () => {
  it('configures the sidecar too: the secret, proxy mode, calls below Odoo workers', () => {
    const snippet = /```ini\n([\s\S]*?)```/.exec(section('### Odoo: `deploy/odoo.conf`'))?.[1];
    expect(snippet).toBeDefined();
    const path = join(mkdtempSync(join(tmpdir(), 'readme-conf-')), 'odoo.conf');
    writeFileSync(path, `[options]\n${snippet}`);
    const { config, warnings } = loadConfig({ argv: ['--odoo-config', path], env: {} });
    expect(config.secret).toBeTruthy();
    expect(config.proxyMode).toBe(true);
    expect(config.odooConcurrency).toBeLessThan(config.odooWorkers ?? 0);
    expect(config.listenDbHost).not.toBe(config.readDbHost);
    expect(warnings).toEqual([]);
  });
});

describe('the switch-over steps', () => {
  const steps = section('### Switching an existing Odoo over, and back');

  it('free port 8072 before the sidecar takes it, and run the built service', () => {
    expect(steps.indexOf('server_wide_modules')).toBeLessThan(steps.indexOf('node dist/main.js'));
    expect(steps).not.toMatch(/npm run build|tsx /);
  });

  it('say where the addon is installed and what installing it adds', () => {
    expect(steps).toMatch(/Install the addon in each database/);
    expect(steps).toMatch(/password changes/);
  });
});
