/**
 * When a websocket's Origin does not match the host it asked for, the socket is served as a public
 * visitor. For a page of another site that is right; for the sidecar's own users it means the proxy
 * in front did not pass the browser's host, and Discuss silently stops for everyone (each browser
 * is a visitor). These are the proxy mistakes that look like that, told apart from a foreign page,
 * so that the log can say which setting to change.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../observability/logger.js';
import type { LogLimiter } from '../../observability/logLimiter.js';
import type { ClientIdentity, ProxyTrust } from '../clientIdentity.js';

export interface ProxyMistake {
  /** Stable key, for the log's rate limit. */
  kind: 'no-host' | 'port-dropped' | 'proxy-mode-off' | 'untrusted-proxy';
  /** What to change. */
  hint: string;
}

const NGINX_INHERITANCE =
  "in nginx, a location that sets any proxy_set_header of its own drops every proxy_set_header of the server block: set 'proxy_set_header Host $http_host;' and 'proxy_set_header X-Forwarded-Host $http_host;' in location /websocket itself (see deploy/nginx.conf)";

function hostPart(host: string): { name: string; port: string } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host.trim().toLowerCase());
  return { name: match?.[1] ?? host, port: match?.[2] ?? '' };
}

/** The likely proxy mistake behind a cross-origin socket, or undefined for a foreign page. */
export function proxyMistake(
  request: IncomingMessage,
  client: ClientIdentity,
  trust: ProxyTrust,
): ProxyMistake | undefined {
  const peer = request.socket.remoteAddress;
  const forwardedHost = request.headers['x-forwarded-host'];
  if (forwardedHost !== undefined && !client.viaTrustedProxy) {
    if (!trust.proxyMode && trust.isProxy(peer)) {
      return {
        kind: 'proxy-mode-off',
        hint: 'the proxy sends X-Forwarded-Host but proxyMode is off, so Host was compared: set proxy_mode = True in odoo.conf (or SIDECAR_PROXY_MODE=1)',
      };
    }
    if (trust.proxyMode && !trust.isProxy(peer)) {
      return {
        kind: 'untrusted-proxy',
        hint: `X-Forwarded-Host came from ${peer}, which is not in trustedProxies: add the proxy's address to SIDECAR_TRUSTED_PROXIES`,
      };
    }
  }
  if (forwardedHost === undefined && trust.isProxy(peer)) {
    return { kind: 'no-host', hint: `the proxy passed no X-Forwarded-Host; ${NGINX_INHERITANCE}` };
  }
  let origin: URL;
  try {
    origin = new URL(String(request.headers.origin));
  } catch {
    return undefined;
  }
  const compared = hostPart(client.host ?? '');
  if (compared.name === origin.hostname.toLowerCase() && compared.port !== origin.port) {
    return {
      kind: 'port-dropped',
      hint: "the host compared lacks the page's port ($host drops it): use $http_host for Host and X-Forwarded-Host in nginx",
    };
  }
  return undefined;
}

/**
 * The warning for a proxy mistake: the Origin and the host compared, and what to change, at most
 * once a minute per mistake and host (`limiter` keyed by them).
 */
export function reportProxyMistake(
  logger: Logger,
  limiter: LogLimiter,
  request: IncomingMessage,
  client: ClientIdentity,
  mistake: ProxyMistake,
): void {
  const origin = String(request.headers.origin).slice(0, 200);
  const hostCompared = (client.host ?? '').slice(0, 200);
  limiter.log('ws-proxy-mistake', `${mistake.kind} ${hostCompared}`, (note) =>
    logger.warn(
      { origin, hostCompared, mistake: mistake.kind, ...note },
      `websocket served as a public visitor because its Origin ${origin} is not the host compared, "${hostCompared}": probably the proxy, not a foreign page (every user would lose Discuss); ${mistake.hint}`,
    ),
  );
}
