/**
 * Request targets read once, the same way for every use: what the sidecar routes on must be what
 * it forwards, or a path that looks like a bus route here turns into another one in the URL
 * parser of the next hop (undici and browsers read `\` as `/` and resolve `..`).
 */

export interface RequestTarget {
  /** The path, percent-decoded once (as werkzeug decodes it for Odoo's router). */
  path: string;
  /** What follows `?`, as sent ('' when there is none). */
  query: string;
}

/**
 * The target of a request, or undefined when parsers would disagree on it: it does not start with
 * one `/` (a `//` start is read as a host by URL parsers: `//websocket:99999`, `//[`), or its
 * percent-escapes do not decode (`%zz`). Those are bad requests (400).
 */
export function readTarget(raw: string | undefined): RequestTarget | undefined {
  if (raw === undefined || raw[0] !== '/' || raw[1] === '/' || raw[1] === '\\') return undefined;
  const mark = raw.indexOf('?');
  const encoded = mark < 0 ? raw : raw.slice(0, mark);
  let path: string;
  try {
    path = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  return { path, query: mark < 0 ? '' : raw.slice(mark + 1) };
}

/**
 * The path a URL parser would end up with: `\` read as `/`, `.` and `..` segments resolved (never
 * above the root). Empty segments are kept: `/websocket//x` stays what it is.
 */
export function normalisedPath(path: string): string {
  const segments: string[] = [];
  const parts = path.replaceAll('\\', '/').split('/');
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
    const last = i === parts.length - 1;
    if (part === '.') {
      if (last) segments.push('');
    } else if (part === '..') {
      segments.pop();
      if (last) segments.push('');
    } else segments.push(part);
  }
  return `/${segments.join('/')}`;
}
