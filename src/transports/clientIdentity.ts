/**
 * Who the client is, for both transports and for every header the sidecar sends Odoo about it: the
 * one place that decides whether `X-Forwarded-For/Host/Proto` are believed.
 *
 * As Odoo (`odoo/http.py`): only in proxy mode, only when the request carries `X-Forwarded-Host`,
 * and with one trusted hop (werkzeug's ProxyFix `x_for=1, x_proto=1, x_host=1`: the last value of
 * each header, the one the nearest proxy wrote). Unlike Odoo, also only from the addresses in
 * `trustedProxies`: the sidecar's port is often reachable without the proxy.
 *
 * Not believed, the client is its peer address, the `Host` it asked for, plain HTTP (the sidecar
 * serves no TLS). Odoo trusts the sidecar as its proxy (it runs with `proxy_mode`, behind nginx),
 * so what the sidecar sends it is what Odoo believes: the client's own forwarding headers are
 * replaced, never passed on.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { BrowserContext } from '../odoo/client.js';
import { addressGroup } from './clientAddress.js';

export interface ClientIdentity {
  /** The client's address: the trusted proxy's word, else the peer address. */
  readonly address: string | undefined;
  /** The host the browser asked for (`X-Forwarded-Host` from a trusted proxy, else `Host`). */
  readonly host: string | undefined;
  /** The browser's scheme; undefined when a trusted proxy does not say it. */
  readonly proto: string | undefined;
  /** `X-Forwarded-For` for Odoo: the trusted proxy's chain (its last entry is `address`). */
  readonly forwardedFor: string | undefined;
  /** True when a trusted proxy's forwarding headers were believed. */
  readonly viaTrustedProxy: boolean;
}

/** Headers a client could use to pass itself off as someone else towards Odoo. */
export const CLIENT_IDENTITY_HEADERS = [
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'forwarded',
] as const;

export class ProxyTrust {
  private readonly proxies = new BlockList();

  constructor(
    readonly proxyMode: boolean,
    trustedProxies: readonly string[],
  ) {
    for (const entry of trustedProxies) {
      const [address = '', bits] = entry.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.proxies.addAddress(address, family);
      else this.proxies.addSubnet(address, Number(bits), family);
    }
  }

  /** Whether `peer` is one of the configured proxies (whatever `proxyMode` says). */
  isProxy(peer: string | undefined): boolean {
    if (peer === undefined) return false;
    const address = unmapped(peer);
    return this.proxies.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }

  /** Whether the forwarding headers of a request from `peer` are believed. */
  trusts(peer: string | undefined): boolean {
    return this.proxyMode && this.isProxy(peer);
  }
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) is 127.0.0.1. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function lastValue(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(',') : value;
  const last = text?.split(',').at(-1)?.trim();
  return last === '' ? undefined : last;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The client of `request` (an HTTP request or a websocket upgrade), as `trust` allows it. */
export function clientIdentity(request: IncomingMessage, trust: ProxyTrust): ClientIdentity {
  const headers = request.headers;
  const peer = request.socket.remoteAddress;
  const forwardedHost = lastValue(headers['x-forwarded-host']);
  if (forwardedHost !== undefined && trust.trusts(peer)) {
    const forwardedFor = joined(headers['x-forwarded-for']);
    return {
      address: lastValue(forwardedFor) ?? peer,
      host: forwardedHost,
      proto: lastValue(headers['x-forwarded-proto'])?.toLowerCase(),
      forwardedFor: forwardedFor ?? peer,
      viaTrustedProxy: true,
    };
  }
  return {
    address: peer,
    host: headers.host,
    proto: 'http',
    forwardedFor: peer,
    viaTrustedProxy: false,
  };
}

/** The headers that tell Odoo who the client is, in place of every `CLIENT_IDENTITY_HEADERS`. */
export function identityHeaders(identity: ClientIdentity): Record<string, string> {
  const headers: Record<string, string> = { 'x-forwarded-proto': identity.proto ?? 'http' };
  if (identity.forwardedFor !== undefined) headers['x-forwarded-for'] = identity.forwardedFor;
  if (identity.host !== undefined) headers['x-forwarded-host'] = identity.host;
  if (identity.address !== undefined) headers['x-real-ip'] = identity.address;
  return headers;
}

const same = (value: string | undefined) => value;

/**
 * The browser as the sidecar describes it to Odoo on its calls: its cookie, its Host (Odoo's
 * host-based dbfilter), and the client identity. `keep` lets the websocket share the strings many
 * sockets hold alike (a socket keeps its context for its life).
 */
export function browserContext(
  request: IncomingMessage,
  client: ClientIdentity,
  keep: (value: string | undefined) => string | undefined = same,
): BrowserContext {
  const h = request.headers;
  return {
    address: keep(addressGroup(client.address)) as string,
    cookie: joined(h.cookie) ?? '',
    host: keep(h.host),
    forwardedFor: keep(client.forwardedFor),
    forwardedHost: keep(client.host),
    forwardedProto: keep(client.proto ?? 'http'),
    userAgent: keep(joined(h['user-agent'])),
  };
}
