/**
 * The programs the integration tests run, beside Node: PostgreSQL's server binaries, PgBouncer,
 * nginx, Chromium and Prometheus. Each is looked up once, where Debian installs it (then on PATH); a missing one
 * is reported in one line that names the Debian package to install, before any test starts
 * (`test/integration.globalSetup.ts`) and again by the helper that would have run it.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type SystemToolName = 'postgres' | 'pgbouncer' | 'nginx' | 'chromium' | 'prometheus';

interface SystemTool {
  /** What the tests use it for, in the error line. */
  readonly what: string;
  readonly debianPackage: string;
  /** Its path (for `postgres`: the directory of the server binaries), or undefined. */
  find(): string | undefined;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable among `candidates`, else `name` found on PATH. */
function findExecutable(name: string, candidates: readonly string[]): string | undefined {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return [...candidates, ...onPath.map((dir) => join(dir, name))].find(executable);
}

/** `pg_config --bindir`, else the newest Debian-style install, else a source build's default. */
function findPostgresBinDir(): string | undefined {
  const candidates: string[] = [];
  try {
    candidates.push(
      execFileSync('pg_config', ['--bindir'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim(),
    );
  } catch {
    // no pg_config on PATH: the usual install locations follow
  }
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debianRoot, v, 'bin')));
  }
  candidates.push('/usr/local/pgsql/bin');
  return candidates.find(
    (dir) => executable(join(dir, 'postgres')) && executable(join(dir, 'initdb')),
  );
}

const TOOLS: Readonly<Record<SystemToolName, SystemTool>> = {
  postgres: {
    what: 'PostgreSQL server binaries (initdb, postgres)',
    debianPackage: 'postgresql',
    find: findPostgresBinDir,
  },
  pgbouncer: {
    what: 'pgbouncer',
    debianPackage: 'pgbouncer',
    find: () =>
      findExecutable('pgbouncer', [
        '/usr/sbin/pgbouncer',
        '/usr/bin/pgbouncer',
        '/usr/local/bin/pgbouncer',
      ]),
  },
  nginx: {
    what: 'nginx',
    debianPackage: 'nginx-light',
    find: () =>
      findExecutable('nginx', ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']),
  },
  chromium: {
    what: 'chromium',
    debianPackage: 'chromium',
    find: () =>
      findExecutable('chromium', ['/usr/bin/chromium']) ??
      findExecutable('chromium-browser', ['/usr/bin/chromium-browser']),
  },
  prometheus: {
    what: 'prometheus (the server loads the alert rules and the dashboard queries)',
    debianPackage: 'prometheus',
    find: () => findExecutable('prometheus', ['/usr/bin/prometheus', '/usr/local/bin/prometheus']),
  },
};

/** The Debian package of each tool (`.ci/run` installs these). */
export const DEBIAN_PACKAGES: Readonly<Record<SystemToolName, string>> = Object.fromEntries(
  Object.entries(TOOLS).map(([name, tool]) => [name, tool.debianPackage]),
) as Record<SystemToolName, string>;

const found = new Map<SystemToolName, string | undefined>();

function lookup(name: SystemToolName): string | undefined {
  if (!found.has(name)) found.set(name, TOOLS[name].find());
  return found.get(name);
}

/** The one line that says what is missing and how to install it. */
export function missingToolsMessage(names: readonly SystemToolName[]): string {
  const what = names.map((name) => TOOLS[name].what).join(', ');
  const packages = names.map((name) => TOOLS[name].debianPackage).join(' ');
  return `the integration tests need ${what}: apt-get install ${packages} (or run .ci/run, which installs them)`;
}

export class MissingSystemToolError extends Error {
  override name = 'MissingSystemToolError';
  constructor(readonly tools: readonly SystemToolName[]) {
    super(missingToolsMessage(tools));
    // One line is the whole message: where in the harness it was noticed does not help.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** Every tool of `names` that cannot be found. */
export function missingTools(
  names: readonly SystemToolName[] = Object.keys(TOOLS) as SystemToolName[],
): SystemToolName[] {
  return names.filter((name) => lookup(name) === undefined);
}

/** The tool's path (for `postgres`: the directory of its binaries); throws the one-line error. */
export function requireTool(name: SystemToolName): string {
  const path = lookup(name);
  if (path === undefined) throw new MissingSystemToolError([name]);
  return path;
}
