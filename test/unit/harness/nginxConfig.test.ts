import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRODUCTION_NGINX_CONFIG } from '../../helpers/servers/nginx.js';
import { adaptForTestMachine, assertBusRouting } from '../../helpers/servers/nginxConfig.js';
import {
  children,
  type Directive,
  findAll,
  parseNginx,
  quote,
  renderNginx,
  unquote,
} from '../../helpers/servers/nginxSyntax.js';

const production = readFileSync(PRODUCTION_NGINX_CONFIG, 'utf8');

const machine = {
  upstreams: { odoo: '127.0.0.1:40001', sidecar: '127.0.0.1:40002' },
  listen: ['127.0.0.1:40003', '127.0.0.1:40004'],
  pidFile: '/tmp/x/nginx.pid',
  errorLog: '/tmp/x/error.log',
  accessLog: '/tmp/x/access.log',
  tempPaths: { proxy_temp_path: '/tmp/x/proxy', client_body_temp_path: '/tmp/x/body' },
  maxOpenFiles: 1_000_000,
};

/** Directives the test machine replaces or adds; everything else must survive unchanged. */
const TEST_ONLY = new Set([
  'listen',
  'pid',
  'error_log',
  'access_log',
  'daemon',
  'server',
  'proxy_temp_path',
  'client_body_temp_path',
]);

/** `http > server > location /websocket > proxy_set_header Upgrade $http_upgrade`, one per leaf. */
function paths(block: readonly Directive[], prefix = ''): string[] {
  return block.flatMap((d) => {
    const here = `${prefix}${[d.name, ...d.args].join(' ')}`;
    if (d.block === undefined) return TEST_ONLY.has(d.name) ? [] : [here];
    return [here, ...paths(d.block, `${here} > `)];
  });
}

function location(config: readonly Directive[], path: string): Directive {
  const found = findAll(config, 'location').find((l) => l.args.join(' ') === path);
  if (found === undefined) throw new Error(`no location ${path}`);
  return found;
}

function header(block: Directive, name: string): string | undefined {
  return children(block.block ?? [], 'proxy_set_header').find((d) => d.args[0] === name)?.args[1];
}

/** The production file with one edit, to see the checks refuse it. */
function edited(from: string, to: string): string {
  if (!production.includes(from)) throw new Error(`deploy/nginx.conf no longer contains: ${from}`);
  return production.replace(from, to);
}

describe('deploy/nginx.conf', () => {
  const config = parseNginx(production);

  it('routes the bus to the sidecar and everything else to Odoo, by compose service names', () => {
    expect(assertBusRouting(config)).toEqual({ sidecarUpstream: 'sidecar', odooUpstream: 'odoo' });
    const upstreams = Object.fromEntries(
      findAll(config, 'upstream').map((u) => [
        u.args[0],
        children(u.block ?? [], 'server')[0]?.args,
      ]),
    );
    expect(upstreams).toEqual({ odoo: ['odoo:8069'], sidecar: ['sidecar:8072'] });
    expect(findAll(config, 'listen').map((l) => l.args)).toEqual([['80']]);
  });

  it('balances sockets over several sidecars by their open connections, counted by all workers', () => {
    const sidecar = findAll(config, 'upstream').find((u) => u.args[0] === 'sidecar');
    const names = (sidecar?.block ?? []).map((d) => d.name);
    expect(names).toContain('least_conn');
    expect(children(sidecar?.block ?? [], 'zone')[0]?.args[0]).toBe('sidecar');
    // A second sidecar is one line: its `server` is there, commented out.
    expect(production).toMatch(/^ {4}# server sidecar2:8072;$/m);
  });

  it('upgrades /websocket with the browser host, port included, for the origin check', () => {
    const websocket = location(config, '/websocket');
    expect(header(websocket, 'Upgrade')).toBe('$http_upgrade');
    expect(header(websocket, 'Connection')).toBe('$connection_upgrade');
    expect(header(websocket, 'Host')).toBe('$http_host');
    expect(header(websocket, 'X-Forwarded-Host')).toBe('$http_host');
    expect(header(websocket, 'X-Forwarded-Proto')).toBe('$scheme');
    expect(header(websocket, 'X-Real-IP')).toBe('$remote_addr');
  });

  it('lets sockets and long polls outlive the sidecar keepalive and the 50 s poll', () => {
    const seconds = (l: Directive) =>
      Number.parseInt(children(l.block ?? [], 'proxy_read_timeout')[0]?.args[0] ?? '0', 10);
    expect(seconds(location(config, '/websocket'))).toBeGreaterThanOrEqual(3600);
    expect(seconds(location(config, '/longpolling'))).toBeGreaterThan(50);
  });

  it('gives Odoo the forwarded headers proxy_mode reads', () => {
    const root = location(config, '/');
    expect(header(root, 'X-Forwarded-Host')).toBe('$http_host');
    expect(header(root, 'X-Forwarded-For')).toBe('$proxy_add_x_forwarded_for');
    expect(header(root, 'X-Forwarded-Proto')).toBe('$scheme');
  });
});

describe('adaptForTestMachine', () => {
  const adapted = parseNginx(adaptForTestMachine(production, machine));

  it('keeps every production directive a test machine need not change', () => {
    expect(paths(adapted)).toEqual(expect.arrayContaining(paths(parseNginx(production))));
  });

  it('points upstreams, listeners, logs and temp paths at the test machine, in the foreground', () => {
    const server = (name: string) =>
      children(findAll(adapted, 'upstream').find((u) => u.args[0] === name)?.block ?? [], 'server');
    expect(server('odoo').map((d) => d.args)).toEqual([['127.0.0.1:40001']]);
    expect(server('sidecar').map((d) => d.args)).toEqual([['127.0.0.1:40002']]);
    expect(findAll(adapted, 'listen').map((d) => d.args)).toEqual([
      ['127.0.0.1:40003'],
      ['127.0.0.1:40004'],
    ]);
    expect(children(adapted, 'daemon').map((d) => d.args)).toEqual([['off']]);
    expect(children(adapted, 'pid').map((d) => d.args)).toEqual([['/tmp/x/nginx.pid']]);
    expect(findAll(adapted, 'error_log').map((d) => d.args[0])).toEqual(['/tmp/x/error.log']);
    expect(findAll(adapted, 'access_log').map((d) => d.args[0])).toEqual(['/tmp/x/access.log']);
    expect(findAll(adapted, 'proxy_temp_path').map((d) => d.args)).toEqual([['/tmp/x/proxy']]);
  });

  it('lists every sidecar of a fleet in the upstream, its balancing kept', () => {
    const fleet = parseNginx(
      adaptForTestMachine(production, {
        ...machine,
        upstreams: { ...machine.upstreams, sidecar: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] },
      }),
    );
    const sidecar = findAll(fleet, 'upstream').find((u) => u.args[0] === 'sidecar')?.block ?? [];
    expect(children(sidecar, 'server').map((d) => d.args)).toEqual([
      ['127.0.0.1:1'],
      ['127.0.0.1:2'],
      ['127.0.0.1:3'],
    ]);
    expect(children(sidecar, 'least_conn')).toHaveLength(1);
  });

  it('lowers the descriptor limit only when the machine cannot grant it', () => {
    const limit = (text: string) => children(parseNginx(text), 'worker_rlimit_nofile')[0]?.args;
    expect(limit(adaptForTestMachine(production, machine))).toEqual(limit(production));
    expect(limit(adaptForTestMachine(production, { ...machine, maxOpenFiles: 4096 }))).toEqual([
      '4096',
    ]);
  });

  it('refuses a /websocket that lost its upgrade headers or HTTP/1.1', () => {
    for (const line of [
      'proxy_set_header Upgrade $http_upgrade;',
      'proxy_set_header Connection $connection_upgrade;',
      'proxy_http_version 1.1;',
    ]) {
      expect(() => adaptForTestMachine(edited(line, ''), machine)).toThrow(/\/websocket lost/);
    }
  });

  it('refuses a bus location that drops the port from the host or the browser identity', () => {
    expect(() =>
      adaptForTestMachine(
        edited(
          'proxy_set_header X-Forwarded-Host $http_host;',
          'proxy_set_header X-Forwarded-Host $host;',
        ),
        machine,
      ),
    ).toThrow(/\/websocket lost "proxy_set_header X-Forwarded-Host \$http_host"/);
    const withoutFor = production.replaceAll(
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '',
    );
    expect(() => adaptForTestMachine(withoutFor, machine)).toThrow(/\/longpolling lost/);
  });

  it('refuses a configuration without the upgrade map', () => {
    expect(() => adaptForTestMachine(edited('default upgrade;', ''), machine)).toThrow(/map/);
  });

  it('refuses a location that exposes the sidecar, its metrics included', () => {
    const exposed = edited(
      '    location / {',
      '    location /metrics {\n      proxy_pass http://sidecar;\n    }\n    location / {',
    );
    expect(() => adaptForTestMachine(exposed, machine)).toThrow(/location \/metrics exposes/);
  });

  it('refuses to guess an address for an upstream it was not given', () => {
    const { sidecar: _, ...onlyOdoo } = machine.upstreams;
    expect(() => adaptForTestMachine(production, { ...machine, upstreams: onlyOdoo })).toThrow(
      /upstream "sidecar"/,
    );
  });
});

describe('nginx syntax', () => {
  it('reads blocks, quoted arguments and comments, and renders them back', () => {
    const text = [
      'events { worker_connections 10; } # trailing comment',
      'http {',
      "  map $http_upgrade $c { default upgrade; '' close; }",
      "  log_format main \"a;b {c}\" 'd\\'e';",
      '}',
    ].join('\n');
    const parsed = parseNginx(text);
    expect(parsed.map((d) => d.name)).toEqual(['events', 'http']);
    const map = findAll(parsed, 'map')[0];
    expect(map?.block?.map((d) => [d.name, ...d.args])).toEqual([
      ['default', 'upgrade'],
      ["''", 'close'],
    ]);
    const format = findAll(parsed, 'log_format')[0];
    expect(format?.args.map(unquote)).toEqual(['main', 'a;b {c}', "d'e"]);
    const strip = (ds: Directive[]): unknown =>
      ds.map((d) => ({ n: d.name, a: d.args, b: d.block && strip(d.block) }));
    expect(strip(parseNginx(renderNginx(parsed)))).toEqual(strip(parsed));
  });

  it('quotes only what needs quoting', () => {
    expect(quote('127.0.0.1:80')).toBe('127.0.0.1:80');
    expect(quote('/tmp/a dir/x.log')).toBe('"/tmp/a dir/x.log"');
    expect(quote('')).toBe('""');
    expect(unquote(quote('say "hi";'))).toBe('say "hi";');
  });

  it('says where a block is left open or a directive is not terminated', () => {
    expect(() => parseNginx('http {\n  server {\n')).toThrow(/"}" is missing/);
    expect(() => parseNginx('pid /x\n}')).toThrow(/line 2/);
    expect(() => parseNginx('pid "/x;')).toThrow(/unterminated/);
  });
});
