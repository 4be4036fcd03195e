/**
 * Settings of the public port and of the admin port, and what the sidecar knows of Odoo's HTTP
 * side.
 */
import { z } from 'zod';
import { addressList, bool, optionalText, port, setting } from './setting.js';

/** The public port, Odoo's URL, the proxies believed, the shared secret, Odoo's version. */
export const httpSettings = {
  host: setting(
    z.string().min(1).default('0.0.0.0'),
    { env: ['SIDECAR_HOST'], odoo: ['http_interface'], flag: 'host' },
    'Interface the sidecar listens on.',
  ),
  port: setting(
    port.default(8072),
    { env: ['SIDECAR_PORT'], odoo: ['longpolling_port', 'gevent_port'], flag: 'port' },
    "Port the sidecar listens on: Odoo's `gevent_port` (8072), the one the proxy already routes `/websocket` to (`longpolling_port`, its older name, wins when not 0, as in Odoo 16-18).",
  ),
  odooUrl: setting(
    z.url().default('http://127.0.0.1:8069'),
    { env: ['SIDECAR_ODOO_URL'], flag: 'odoo-url' },
    "Base URL of Odoo's HTTP workers, called for channel authorization, presence and forwarded routes. With `--odoo-config`, the default is `http://127.0.0.1:<http_port>`.",
  ),
  proxyMode: setting(
    bool.default(false),
    { env: ['SIDECAR_PROXY_MODE'], odoo: ['proxy_mode'], flag: 'proxy-mode' },
    "Believe `X-Forwarded-For/Host/Proto` on requests from `trustedProxies`, as Odoo's `proxy_mode` does (which is why odoo.conf's `proxy_mode` sets it). Off, or from any other address: the client is the peer address and its `Host`, and its own `X-Forwarded-*` never reach Odoo.",
  ),
  trustedProxies: setting(
    addressList.default(['127.0.0.0/8', '::1']),
    { env: ['SIDECAR_TRUSTED_PROXIES'], flag: 'trusted-proxies' },
    'Comma-separated addresses or CIDR ranges of the reverse proxies whose forwarded headers `proxyMode` believes.',
  ),
  crossOrigin: setting(
    z.enum(['downgrade', 'reject', 'allow']).default('downgrade'),
    { env: ['SIDECAR_CROSS_ORIGIN'], flag: 'cross-origin' },
    "Websocket whose `Origin` is not the page's host: `downgrade` serves it as a public visitor without the browser's cookies, `reject` answers 403, `allow` trusts the cookies as Odoo does by default.",
  ),
  secret: setting(
    optionalText,
    { env: ['BUS_SIDECAR_SECRET'], odoo: ['bus_sidecar_secret'], flag: 'secret' },
    "Shared secret for the `bus_sidecar` addon's info route (same value on both sides).",
  ),
  workerVersion: setting(
    optionalText,
    { env: ['SIDECAR_WORKER_VERSION'], flag: 'worker-version' },
    "Odoo's `websocket_worker_version`, when the addon's info route cannot tell it (Odoo itself only puts it in its pages' session info). Unknown: no `OUTDATED_VERSION` closes.",
  ),
  odooVersion: setting(
    z.union([z.literal('auto'), z.coerce.number().int().min(12).max(19)]).default('auto' as const),
    { env: ['SIDECAR_ODOO_VERSION'], flag: 'odoo-version' },
    "Odoo major version served (12-19): 12-15 deliver the bus by long polling, 16+ by websocket. `auto` learns it from the addon's info route (or its poll route), else from Odoo's `/web/webclient/version_info`.",
  ),
} as const;
/** The admin port: metrics, probes, the status page and its authentication. */
export const adminSettings = {
  adminHost: setting(
    z.string().min(1).default('127.0.0.1'),
    { env: ['SIDECAR_ADMIN_HOST'], flag: 'admin-host' },
    'Interface of the admin port (`/metrics`, `/healthz`, `/readyz`, `/status`). Loopback by default: open it only to the private network (in a container: `0.0.0.0`, unpublished or published on loopback).',
  ),
  adminPort: setting(
    port.default(9072),
    { env: ['SIDECAR_ADMIN_PORT'], flag: 'admin-port' },
    'Port of the admin server: metrics, liveness, readiness and the status page. The public `port` serves only `/websocket*` and `/longpolling*`.',
  ),
  statusAuth: setting(
    z.enum(['none', 'secret', 'basic']).default('none'),
    { env: ['SIDECAR_STATUS_AUTH'], flag: 'status-auth' },
    '`/status` and `/status.json`: open to whoever reaches the admin port (`none`), or only with the shared `secret` (as the `X-Bus-Sidecar-Secret` header, or as the password of basic authentication), or with `statusUser` and `statusPassword` (`basic`). `/metrics` and the probes stay open.',
  ),
  statusUser: setting(
    z.string().min(1).default('admin'),
    { env: ['SIDECAR_STATUS_USER'], flag: 'status-user' },
    'User name of basic authentication for the status page (`statusAuth = basic`).',
  ),
  statusPassword: setting(
    optionalText,
    { env: ['SIDECAR_STATUS_PASSWORD'], flag: 'status-password' },
    'Password of basic authentication for the status page (`statusAuth = basic`).',
  ),
} as const;
