/**
 * The websocket handshake checks of Odoo's `WebsocketConnectionHandler`, in Odoo's order and with
 * its HTTP answers (werkzeug's HTML error pages), plus the sidecar's cross-origin policy.
 *
 * Cross-origin sockets: without `ODOO_BUS_PUBLIC_SAMESITE_WS` Odoo trusts the cookie of any Origin
 * and leaves protection to the cookie's SameSite attribute; with it, a socket whose Origin differs
 * from the Host gets a fresh public session. The sidecar does the latter by default (`downgrade`):
 * the browser's cookies are not forwarded, so a foreign page can open a socket (an embedded livechat
 * works as a public visitor) but never hears a logged-in user's channels.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GENERIC_BAD_REQUEST, NOT_FOUND_DESCRIPTION, werkzeugErrorPage } from '../errorPages.js';

export interface HandshakeRejection {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
  reason: string;
}

const REQUIRED_HEADERS = [
  'connection',
  'host',
  'sec-websocket-key',
  'sec-websocket-version',
  'upgrade',
  'origin',
] as const;

function reject(
  status: number,
  title: string,
  description: string,
  reason: string,
  extra: Record<string, string> = {},
): HandshakeRejection {
  return {
    status,
    statusText: title.toUpperCase(),
    headers: { 'Content-Type': 'text/html; charset=utf-8', ...extra },
    body: werkzeugErrorPage(status, title, description),
    reason,
  };
}

/** The whole HTTP response of a refusal, written on the raw socket (the connection then ends). */
export function rejectionResponse(rejection: HandshakeRejection): Buffer {
  const body = Buffer.from(rejection.body, 'utf8');
  const headers = {
    ...rejection.headers,
    'Content-Length': String(body.length),
    Connection: 'close',
  };
  const head = `HTTP/1.1 ${rejection.status} ${rejection.statusText}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Odoo's checks; returns the rejection to send, or undefined when the handshake is valid. */
export function checkHandshake(headers: IncomingHttpHeaders): HandshakeRejection | undefined {
  const missing = REQUIRED_HEADERS.filter((name) => !header(headers, name)?.trim());
  if (missing.length > 0) {
    return reject(
      400,
      'Bad Request',
      `Empty or missing header(s): ${missing.join(', ')}`,
      'missing-header',
    );
  }
  if (header(headers, 'upgrade')?.toLowerCase() !== 'websocket') {
    return reject(400, 'Bad Request', 'Invalid upgrade header', 'bad-upgrade');
  }
  if (!header(headers, 'connection')?.toLowerCase().includes('upgrade')) {
    return reject(400, 'Bad Request', 'Invalid connection header', 'bad-connection');
  }
  if (header(headers, 'sec-websocket-version') !== '13') {
    return reject(
      426,
      'Upgrade Required',
      'Wrong websocket version was given during the handshake',
      'bad-version',
      {
        'Sec-WebSocket-Version': '13',
      },
    );
  }
  const key = header(headers, 'sec-websocket-key') ?? '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(key) || key.length % 4 !== 0) {
    return reject(400, 'Bad Request', 'Sec-WebSocket-Key should be b64 encoded', 'bad-key');
  }
  if (Buffer.from(key, 'base64').length !== 16) {
    return reject(
      400,
      'Bad Request',
      'Sec-WebSocket-Key should be of length 16 once decoded',
      'bad-key',
    );
  }
  return undefined;
}

/**
 * Odoo 17+ (`_serve_forever`): a client with a User-Agent (a browser) whose `?version=` is not
 * Odoo's current worker version (absent and empty included) is closed with 1000
 * `OUTDATED_VERSION`; clients without a User-Agent (IoT boxes) are exempt. `current` null: the
 * worker version is unknown (16, early 17, or not learned), so nobody is told to reload.
 */
export function isOutdatedClient(
  current: string | null,
  version: string | undefined,
  userAgent: string | undefined,
): boolean {
  return current !== null && Boolean(userAgent) && version !== current;
}

export function forbiddenCrossOrigin(): HandshakeRejection {
  return reject(403, 'Forbidden', 'Cross-origin websocket refused.', 'cross-origin');
}

export function serviceUnavailable(): HandshakeRejection {
  return reject(
    503,
    'Service Unavailable',
    'The bus is restarting, try again shortly.',
    'shutting-down',
  );
}

/**
 * A connection cap is reached. Odoo's web client (16-19) takes a failed handshake like a dropped
 * connection and retries with its backoff; no socket is opened, so nothing more is held.
 */
export function tooManyConnections(cap: 'total' | 'address'): HandshakeRejection {
  return reject(
    503,
    'Service Unavailable',
    'Too many connections, try again later.',
    cap === 'total' ? 'connections-total' : 'connections-per-address',
    { 'Retry-After': '10' },
  );
}

/** A request target parsers would read differently (`//host:port`, `%zz`): werkzeug's 400. */
export function badTarget(): HandshakeRejection {
  return reject(400, 'Bad Request', GENERIC_BAD_REQUEST, 'bad-target');
}

export function notFound(): HandshakeRejection {
  return reject(404, 'Not Found', NOT_FOUND_DESCRIPTION, 'not-found');
}

const DEFAULT_PORTS: Record<string, string> = {
  'http:': '80',
  'https:': '443',
  'ws:': '80',
  'wss:': '443',
};

function normalizeHost(host: string, scheme: string | undefined): string {
  const lower = host.trim().toLowerCase();
  const defaultPort = scheme ? DEFAULT_PORTS[`${scheme}:`] : undefined;
  return defaultPort && lower.endsWith(`:${defaultPort}`)
    ? lower.slice(0, -(defaultPort.length + 1))
    : lower;
}

/**
 * Whether `origin` names the host the browser asked for. The scheme is compared only when known
 * (an `X-Forwarded-Proto` from the proxy), so that a TLS-terminating proxy that does not send it
 * does not downgrade every user (Odoo's own check has that flaw).
 */
export function isSameOrigin(origin: string, host: string, scheme: string | undefined): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const originScheme = url.protocol.replace(/:$/, '');
  if (scheme !== undefined && originScheme !== scheme.toLowerCase()) return false;
  return normalizeHost(url.host, originScheme) === normalizeHost(host, scheme ?? originScheme);
}
