/**
 * Turns the project's production nginx configuration (`deploy/nginx.conf`) into the one a test
 * machine runs, in the spirit of `pgbouncerConfig.ts`: every directive is kept except where a test
 * machine must differ (upstream addresses, listen ports, pid/log/temp paths, foreground mode, a
 * descriptor limit the machine cannot grant). Pure text in, text out.
 *
 * Before rewriting anything it checks that the bus locations still do what the sidecar needs, so a
 * careless edit of the production file fails the tests rather than the browsers.
 */
import {
  children,
  type Directive,
  findAll,
  parseNginx,
  quote,
  renderNginx,
} from './nginxSyntax.js';

/** What a bus location must send the sidecar, beyond routing to it. */
const FORWARDED_HEADERS: ReadonlyArray<[string, string]> = [
  ['Host', '$http_host'],
  ['X-Forwarded-Host', '$http_host'],
  ['X-Forwarded-For', '$proxy_add_x_forwarded_for'],
  ['X-Forwarded-Proto', '$scheme'],
];
const UPGRADE_HEADERS: ReadonlyArray<[string, string]> = [
  ['Upgrade', '$http_upgrade'],
  ['Connection', '$connection_upgrade'],
];

export interface BusRouting {
  /** Upstream names the bus locations and `location /` proxy to. */
  sidecarUpstream: string;
  odooUpstream: string;
}

function httpBlock(config: readonly Directive[]): Directive[] {
  const http = children(config, 'http')[0]?.block;
  if (http === undefined) throw new Error('deploy/nginx.conf has no http { } block');
  return http;
}

function locations(http: readonly Directive[]): Map<string, Directive> {
  const byPath = new Map<string, Directive>();
  for (const server of children(http, 'server')) {
    for (const location of children(server.block ?? [], 'location')) {
      byPath.set(location.args.join(' '), location);
    }
  }
  return byPath;
}

/** `http://name` or `http://name/` → `name`. */
function upstreamOf(location: Directive): string | undefined {
  const target = children(location.block ?? [], 'proxy_pass')[0]?.args[0];
  return target === undefined ? undefined : /^https?:\/\/([^/:]+)\/?$/.exec(target)?.[1];
}

function hasHeader(location: Directive, name: string, value: string): boolean {
  return children(location.block ?? [], 'proxy_set_header').some(
    (d) => d.args[0]?.toLowerCase() === name.toLowerCase() && d.args[1] === value,
  );
}

function hasDirective(location: Directive, name: string, value: string): boolean {
  return children(location.block ?? [], name).some((d) => d.args.join(' ') === value);
}

/**
 * Checks the routing the sidecar depends on and returns the upstream names; throws, listing every
 * problem, when `/websocket` lost its upgrade headers, a bus location lost the browser's identity,
 * the upgrade map is gone, or the sidecar is reachable through any other location (its `/metrics`,
 * `/healthz` and `/readyz` must stay private).
 */
export function assertBusRouting(config: readonly Directive[]): BusRouting {
  const http = httpBlock(config);
  const problems: string[] = [];
  const byPath = locations(http);
  const websocket = byPath.get('/websocket');
  const longpolling = byPath.get('/longpolling');
  const root = byPath.get('/');
  if (websocket === undefined) problems.push('no "location /websocket" (prefix match)');
  if (longpolling === undefined) problems.push('no "location /longpolling" (Odoo 12-15)');
  if (root === undefined) problems.push('no "location /" for Odoo');
  const sidecarUpstream = websocket && upstreamOf(websocket);
  const odooUpstream = root && upstreamOf(root);
  if (websocket && !sidecarUpstream) problems.push('/websocket does not proxy_pass to an upstream');
  if (root && !odooUpstream) problems.push('/ does not proxy_pass to an upstream');
  if (sidecarUpstream && sidecarUpstream === odooUpstream) {
    problems.push(`/websocket and / both go to upstream "${sidecarUpstream}"`);
  }

  const map = children(http, 'map').find(
    (d) => d.args.join(' ') === '$http_upgrade $connection_upgrade',
  );
  const entries = new Set((map?.block ?? []).map((d) => [d.name, ...d.args].join(' ')));
  if (!entries.has('default upgrade') || !(entries.has("'' close") || entries.has('"" close'))) {
    problems.push(
      'the "map $http_upgrade $connection_upgrade" (default upgrade; \'\' close) is gone',
    );
  }

  for (const [path, location] of [
    ['/websocket', websocket],
    ['/longpolling', longpolling],
  ] as const) {
    if (location === undefined) continue;
    if (sidecarUpstream && upstreamOf(location) !== sidecarUpstream) {
      problems.push(`${path} does not go to the sidecar upstream "${sidecarUpstream}"`);
    }
    for (const [name, value] of FORWARDED_HEADERS) {
      if (!hasHeader(location, name, value)) {
        problems.push(`${path} lost "proxy_set_header ${name} ${value}"`);
      }
    }
    if (!hasDirective(location, 'proxy_buffering', 'off')) {
      problems.push(`${path} lost "proxy_buffering off"`);
    }
  }
  if (websocket !== undefined) {
    if (!hasDirective(websocket, 'proxy_http_version', '1.1')) {
      problems.push('/websocket lost "proxy_http_version 1.1" (no upgrade over HTTP/1.0)');
    }
    for (const [name, value] of UPGRADE_HEADERS) {
      if (!hasHeader(websocket, name, value)) {
        problems.push(`/websocket lost "proxy_set_header ${name} ${value}"`);
      }
    }
  }

  for (const [path, location] of byPath) {
    if (path === '/websocket' || path === '/longpolling') continue;
    if (sidecarUpstream && upstreamOf(location) === sidecarUpstream) {
      problems.push(`location ${path} exposes the sidecar (its /metrics, /healthz, /readyz)`);
    }
  }
  if (problems.length > 0 || !sidecarUpstream || !odooUpstream) {
    throw new Error(`deploy/nginx.conf cannot front the sidecar:\n- ${problems.join('\n- ')}`);
  }
  return { sidecarUpstream, odooUpstream };
}

export interface NginxTestMachine {
  /**
   * `host:port` per upstream name, or several (one `server` each: a scaled-out fleet); every
   * upstream of the file must be given one.
   */
  upstreams: Readonly<Record<string, string | readonly string[]>>;
  /** `host:port` listeners replacing the server's `listen` directives (one origin each). */
  listen: readonly string[];
  pidFile: string;
  errorLog: string;
  accessLog: string;
  /** Temp-path directive → directory (`proxy_temp_path`, `client_body_temp_path`, ...). */
  tempPaths: Readonly<Record<string, string>>;
  /** The process's hard limit on open files: `worker_rlimit_nofile` above it is lowered. */
  maxOpenFiles: number;
  /** Replaces `worker_processes`, and each listener gets `reuseport` (even spread over them). */
  workerProcesses?: number;
}

/** Replaces the first directive named `name` in `block` (or appends one), removing the others. */
function put(block: Directive[], name: string, args: string[]): void {
  const index = block.findIndex((d) => d.name === name);
  const replacement: Directive = { name, args, line: block[index]?.line ?? 0 };
  const rest = block.filter((d) => d.name !== name);
  if (index < 0) rest.push(replacement);
  else rest.splice(Math.min(index, rest.length), 0, replacement);
  block.splice(0, block.length, ...rest);
}

/** The production file with only the test machine's differences applied. */
export function adaptForTestMachine(
  productionText: string,
  machine: NginxTestMachine,
  /** false: a deliberately broken file (a test of what the sidecar says about it). */
  options: { checkBusRouting?: boolean } = {},
): string {
  const config = parseNginx(productionText);
  if (options.checkBusRouting ?? true) assertBusRouting(config);
  const http = httpBlock(config);

  for (const upstream of children(http, 'upstream')) {
    const name = upstream.args[0] ?? '';
    const address = machine.upstreams[name];
    if (address === undefined) throw new Error(`no test address for upstream "${name}"`);
    upstream.block = [
      ...(upstream.block ?? []).filter((d) => d.name !== 'server'),
      ...(typeof address === 'string' ? [address] : address).map(
        (one): Directive => ({ name: 'server', args: [quote(one)], line: upstream.line }),
      ),
    ];
  }
  for (const name of Object.keys(machine.upstreams)) {
    if (!children(http, 'upstream').some((u) => u.args[0] === name)) {
      throw new Error(`deploy/nginx.conf has no upstream "${name}"`);
    }
  }

  const servers = children(http, 'server');
  if (servers.length !== 1) throw new Error(`expected one server { }, found ${servers.length}`);
  const server = servers[0]?.block ?? [];
  const listens = machine.listen.map(
    (address): Directive => ({
      name: 'listen',
      args: [quote(address), ...(machine.workerProcesses === undefined ? [] : ['reuseport'])],
      line: 0,
    }),
  );
  server.splice(0, server.length, ...listens, ...server.filter((d) => d.name !== 'listen'));

  put(config, 'daemon', ['off']);
  if (machine.workerProcesses !== undefined) {
    put(config, 'worker_processes', [String(machine.workerProcesses)]);
  }
  put(config, 'pid', [quote(machine.pidFile)]);
  // Every log goes to the test's files; where the file names none, nginx's compiled-in default
  // (a system path) would be used, so one is added.
  for (const log of findAll(config, 'error_log')) log.args[0] = quote(machine.errorLog);
  for (const log of findAll(config, 'access_log')) {
    if (log.args[0] !== 'off') log.args[0] = quote(machine.accessLog);
  }
  if (children(config, 'error_log').length === 0)
    put(config, 'error_log', [quote(machine.errorLog)]);
  if (children(http, 'access_log').length === 0)
    put(http, 'access_log', [quote(machine.accessLog)]);
  for (const [directive, dir] of Object.entries(machine.tempPaths))
    put(http, directive, [quote(dir)]);
  for (const limit of children(config, 'worker_rlimit_nofile')) {
    limit.args = [String(Math.min(Number(limit.args[0]), machine.maxOpenFiles))];
  }
  return renderNginx(config);
}
