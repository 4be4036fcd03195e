/**
 * The systemd unit (`deploy/odoo-bus-sidecar.service`) and its environment file example, checked
 * without installing them: a dedicated user, restarts on failure only, room for one file descriptor
 * per socket, the confinement directives, the secret in an environment file, the built entry point,
 * a stop timeout above the sidecar's own shutdown bound; `systemd-analyze verify` where it exists.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFrom, loadConfig } from '../../src/config/load.js';
import { settings } from '../../src/config/settings.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const UNIT = 'deploy/odoo-bus-sidecar.service';
const unitText = readFileSync(join(root, UNIT), 'utf8');

/** Sections of a unit file: each key with all its values in order (keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] as string, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq < 0) throw new Error(`${UNIT}: cannot read "${line}"`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

const unit = parseUnit(unitText);
/** The last value of a key (systemd's rule for single-valued settings). */
function value(section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}
const service = (key: string) => value('Service', key);

/** Seconds of a systemd time span such as `45s`, `2min`, `90`. */
function seconds(span: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const [, n, u] of span.matchAll(/(\d+)\s*([a-z]*)/g)) {
    total += Number(n) * (units[u as string] ?? Number.NaN);
  }
  return total;
}

describe(UNIT, () => {
  it('runs as a dedicated unprivileged user, restarted on failure only, within start limits', () => {
    expect(service('User')).toBe('odoo-bus-sidecar');
    expect(service('Group')).toBe('odoo-bus-sidecar');
    expect(service('DynamicUser')).toBeUndefined();
    expect(service('Restart')).toBe('on-failure');
    expect(Number(value('Unit', 'StartLimitBurst'))).toBeGreaterThan(0);
    expect(value('Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('starts the built entry point with node, from the install directory', () => {
    const exec = (service('ExecStart') ?? '').split(/\s+/);
    expect(exec[0]).toMatch(/^\/.*\/node$/);
    expect(exec[1]).toBe(posix.join(service('WorkingDirectory') ?? '', 'dist/main.js'));
    const environment = unit.get('Service')?.get('Environment') ?? [];
    expect(environment).toContain('NODE_ENV=production');
    // The young generation kept small: idle sockets' RSS (see the Dockerfile).
    expect(environment).toContain('NODE_OPTIONS=--max-semi-space-size=1');
    expect(environment).toContain('MALLOC_ARENA_MAX=2');
  });

  it('reads its settings and the shared secret from /etc/odoo-bus-sidecar/env', () => {
    // Without "-": a missing file is an error, not a sidecar started without its secret.
    expect(service('EnvironmentFile')).toBe('/etc/odoo-bus-sidecar/env');
    // Not in the unit itself, which any user may read.
    for (const assignment of unit.get('Service')?.get('Environment') ?? []) {
      expect(assignment).not.toMatch(/SECRET|PASSWORD/);
    }
  });

  it('allows one file descriptor per socket, far beyond the default 1024', () => {
    expect(Number(service('LimitNOFILE'))).toBeGreaterThanOrEqual(65_536);
  });

  it('is confined: no new privileges, a read-only system, no home, a private /tmp', () => {
    expect({
      NoNewPrivileges: service('NoNewPrivileges'),
      ProtectSystem: service('ProtectSystem'),
      ProtectHome: service('ProtectHome'),
      PrivateTmp: service('PrivateTmp'),
      PrivateDevices: service('PrivateDevices'),
      CapabilityBoundingSet: service('CapabilityBoundingSet'),
    }).toEqual({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      CapabilityBoundingSet: '',
    });
    // V8 compiles code at run time: this one would stop node.
    expect(service('MemoryDenyWriteExecute')).toBeUndefined();
  });

  it('stops with SIGTERM and waits longer than the sidecar’s own shutdown bound', () => {
    expect(service('KillSignal')).toBe('SIGTERM');
    const defaults = configFrom({});
    expect(seconds(service('TimeoutStopSec') ?? '')).toBeGreaterThan(
      defaults.shutdownTimeoutSeconds,
    );
    expect(defaults.shutdownWindowSeconds).toBeLessThan(defaults.shutdownTimeoutSeconds);
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  const skipReason = 'systemd-analyze is not installed here';
  it(`is accepted by \`systemd-analyze verify\`${analyze.status === 0 ? '' : ` (skipped: ${skipReason})`}`, (context) => {
    if (analyze.status !== 0) context.skip(skipReason);
    // verify insists that ExecStart's program exists: the node running this test stands in.
    const dir = mkdtempSync(join(tmpdir(), 'unit-verify-'));
    try {
      const copy = join(dir, 'odoo-bus-sidecar.service');
      writeFileSync(copy, unitText.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
      const run = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/odoo-bus-sidecar.env.example', () => {
  const text = readFileSync(join(root, 'deploy/odoo-bus-sidecar.env.example'), 'utf8');
  const env = Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

  it('names only settings the sidecar knows, and loads as a valid configuration', () => {
    const known = new Set(Object.values(settings).flatMap((s) => [...s.source.env]));
    for (const name of Object.keys(env))
      expect({ name, known: known.has(name) }).toEqual({ name, known: true });
    const { config } = loadConfig({ argv: [], env });
    expect(config.secret).toBeTruthy();
    expect(config.port).toBe(8072);
    // The admin port stays on loopback, off the bus port.
    expect([config.adminHost, config.adminPort]).toEqual(['127.0.0.1', 9072]);
  });

  it('puts the LISTEN on PostgreSQL itself and may send the reads through PgBouncer', () => {
    const { config } = loadConfig({ argv: [], env });
    expect(config.listenDbPort).toBe(5432);
    expect(config.readDbPort).toBe(6432);
  });
});
