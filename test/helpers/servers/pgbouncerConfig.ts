/**
 * Turns the project's production PgBouncer configuration (`deploy/pgbouncer.ini`) into the one a test
 * machine runs: every setting is kept, except where the test machine must differ (addresses, ports,
 * paths, the user list). Pure text in, text out.
 *
 * PgBouncer's ini dialect: `[section]` headers, `key = value` lines, comment lines starting with `;`
 * or `#` (no trailing comments), `%include` directives (not supported here: the file must be whole).
 */

export interface IniEntry {
  key: string;
  value: string;
}

export interface IniSection {
  name: string;
  entries: IniEntry[];
}

export function parseIni(text: string): IniSection[] {
  const sections: IniSection[] = [];
  let current: IniSection | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    if (line.startsWith('%')) throw new Error(`line ${index + 1}: ${line} is not supported`);
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header !== null) {
      current = { name: (header[1] ?? '').trim().toLowerCase(), entries: [] };
      sections.push(current);
      continue;
    }
    const equals = line.indexOf('=');
    if (equals < 0 || current === undefined) {
      throw new Error(`line ${index + 1}: expected "key = value" inside a section, got ${line}`);
    }
    current.entries.push({
      key: line.slice(0, equals).trim(),
      value: line.slice(equals + 1).trim(),
    });
  }
  return sections;
}

export function renderIni(sections: readonly IniSection[]): string {
  return sections
    .map((s) => [`[${s.name}]`, ...s.entries.map((e) => `${e.key} = ${e.value}`)].join('\n'))
    .join('\n\n')
    .concat('\n');
}

export function section(sections: readonly IniSection[], name: string): IniSection | undefined {
  return sections.find((s) => s.name === name);
}

export function setting(sections: readonly IniSection[], key: string): string | undefined {
  return section(sections, 'pgbouncer')?.entries.find((e) => e.key === key)?.value;
}

/** `host=postgres port=5432 dbname=x` → ordered pairs (values may be single-quoted). */
export function parseConnectString(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const re = /\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)/g;
  for (let match = re.exec(text); match !== null; match = re.exec(text)) {
    const key = match[1] ?? '';
    const value = match[2] ?? '';
    pairs.push([key, value.startsWith("'") ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value]);
  }
  return pairs;
}

export function renderConnectString(pairs: ReadonlyArray<[string, string]>): string {
  const quote = (v: string): string =>
    /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/['\\]/g, (c) => `\\${c}`)}'`;
  return pairs.map(([k, v]) => `${k}=${quote(v)}`).join(' ');
}

/** The sidecar's whole premise: Odoo's pooled connections are transaction-pooled. */
export function assertTransactionPooling(sections: readonly IniSection[]): void {
  const mode = setting(sections, 'pool_mode');
  if (mode?.toLowerCase() !== 'transaction') {
    throw new Error(
      `deploy/pgbouncer.ini must say "pool_mode = transaction" (it says ${mode ?? 'nothing'})`,
    );
  }
}

export interface TestMachineOverrides {
  listenAddr: string;
  listenPort: number;
  socketDir: string;
  logFile: string;
  pidFile: string;
  authFile: string;
  /** Where every `[databases]` entry points instead (the throwaway cluster). */
  serverHost: string;
  serverPort: number;
}

function put(target: IniSection, key: string, value: string): void {
  const entry = target.entries.find((e) => e.key === key);
  if (entry === undefined) target.entries.push({ key, value });
  else entry.value = value;
}

/** The production file with only the test machine's differences applied. */
export function adaptForTestMachine(productionText: string, o: TestMachineOverrides): string {
  const sections = parseIni(productionText);
  assertTransactionPooling(sections);
  const databases = section(sections, 'databases');
  const main = section(sections, 'pgbouncer');
  if (databases === undefined || databases.entries.length === 0 || main === undefined) {
    throw new Error('the configuration needs a [databases] entry and a [pgbouncer] section');
  }
  for (const entry of databases.entries) {
    const pairs = parseConnectString(entry.value).filter(([k]) => k !== 'host' && k !== 'port');
    entry.value = renderConnectString([
      ['host', o.serverHost],
      ['port', String(o.serverPort)],
      ...pairs,
    ]);
  }
  put(main, 'listen_addr', o.listenAddr);
  put(main, 'listen_port', String(o.listenPort));
  put(main, 'unix_socket_dir', o.socketDir);
  put(main, 'logfile', o.logFile);
  put(main, 'pidfile', o.pidFile);
  put(main, 'auth_file', o.authFile);
  return renderIni(sections);
}

/** Users named by `admin_users` / `stats_users` (comma- or space-separated lists). */
export function consoleUsers(sections: readonly IniSection[]): string[] {
  const names = ['admin_users', 'stats_users'].flatMap((key) =>
    (setting(sections, key) ?? '').split(/[\s,]+/).filter((n) => n !== ''),
  );
  return [...new Set(names)];
}

/** A PgBouncer `auth_file`: one `"user" "password"` line each. */
export function renderUserList(passwords: Readonly<Record<string, string>>): string {
  const quote = (s: string): string => `"${s.replaceAll('"', '""')}"`;
  return Object.entries(passwords)
    .map(([user, password]) => `${quote(user)} ${quote(password)}\n`)
    .join('');
}
