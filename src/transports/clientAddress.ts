/**
 * The one answer to "who is this client?" for caps and fair shares (connections, subscriptions,
 * calls to Odoo): the socket's peer, or, when forwarded headers are trusted, the address the
 * nearest proxy reports — the last `X-Forwarded-For` entry, the one that proxy appended
 * (`proxy_add_x_forwarded_for`), which is also the entry werkzeug's ProxyFix gives Odoo in
 * `proxy_mode`. Earlier entries are whatever the client sent: never an identity.
 *
 * IPv6 addresses count by their /64 prefix, what one subscriber line or host gets: otherwise a
 * single client could take a new address for every connection.
 */
import type { IncomingMessage } from 'node:http';

/** An IPv4 or IPv6 address, as a proxy or the kernel writes it. */
const ADDRESS = /^[0-9A-Fa-f:.]{1,45}$/;
const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

export function clientAddress(request: IncomingMessage, trustForwarded: boolean): string {
  const peer = request.socket.remoteAddress;
  const header = trustForwarded ? request.headers['x-forwarded-for'] : undefined;
  const text = Array.isArray(header) ? header.at(-1) : header;
  const reported = text?.slice(text.lastIndexOf(',') + 1).trim();
  const address = reported !== undefined && ADDRESS.test(reported) ? reported : peer;
  return address === undefined ? 'unknown' : addressGroup(address);
}

/** The key caps count by: IPv4 as it is (also IPv4-mapped IPv6), IPv6 as its /64 prefix. */
export function addressGroup(address: string): string {
  const mapped = MAPPED_IPV4.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return Buffer.from(address, 'latin1').toString('latin1');
  const halves = address.split('::');
  if (halves.length > 2) return 'invalid';
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length === 2
      ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail]
      : head;
  const prefix = groups.slice(0, 4).map((g) => Number.parseInt(g || '0', 16).toString(16));
  return `${prefix.join(':')}::/64`;
}
