/**
 * Header values many sockets share (host, user agent, the proxy's address), kept once: a bounded
 * table, emptied when full.
 */
const interned = new Map<string, string>();

/** One instance of a header value many sockets share; a bounded table, emptied when full. */
export function intern(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size >= 4096) interned.clear();
  interned.set(value, value);
  return value;
}
