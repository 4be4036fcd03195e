/**
 * The key that caps and fair shares count a client by (connections, subscriptions, calls to
 * Odoo): the address `clientIdentity` decides (the peer, or what a trusted proxy reports), IPv6
 * by its /64 prefix, what one subscriber line or host gets: otherwise a single client could take a
 * new address for every connection.
 */

/** An IPv4 or IPv6 address, as a proxy or the kernel writes it. */
const ADDRESS = /^[0-9A-Fa-f:.]{1,45}$/;
const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** IPv4 as it is (also IPv4-mapped IPv6), IPv6 as its /64 prefix; anything else one key. */
export function addressGroup(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  if (!ADDRESS.test(address)) return 'invalid';
  const mapped = MAPPED_IPV4.exec(address);
  if (mapped) return mapped[1] as string;
  // Copied out, so that a key kept for the connection's life does not keep a whole header.
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
