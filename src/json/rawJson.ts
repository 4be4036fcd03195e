/**
 * A strict JSON parser (RFC 8259) that remembers where every value sits in the source text.
 *
 * Why not `JSON.parse`: Odoo's JSON does not survive a JavaScript round trip (integers above 2^53,
 * `-0.0`, `2.0` vs `2`), and the bus must pass Odoo's text through untouched. With spans, a caller can
 * splice the original bytes of a value (a notification's `message`) or re-emit it exactly
 * (`canonicalJson`) without ever turning numbers into doubles.
 */

export type JsonNode =
  | { kind: 'object'; start: number; end: number; entries: Array<[string, JsonNode]> }
  | { kind: 'array'; start: number; end: number; items: JsonNode[] }
  | { kind: 'string'; start: number; end: number; value: string }
  | { kind: 'number'; start: number; end: number }
  | { kind: 'literal'; start: number; end: number; value: true | false | null };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Deeper nesting than this is refused rather than risking the call stack on hostile input. */
const MAX_DEPTH = 256;

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

export function parseJson(text: string): JsonNode {
  let pos = 0;

  const fail = (message: string): never => {
    throw new JsonSyntaxError(message, pos);
  };

  const skipWhitespace = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };

  const parseString = (): { value: string; start: number; end: number } => {
    const start = pos;
    pos++; // opening quote
    let value = '';
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        value += text.slice(runStart, pos);
        pos++;
        return { value, start, end: pos };
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      value += text.slice(runStart, pos);
      const e = text[pos + 1];
      switch (e) {
        case '"':
          value += '"';
          break;
        case '\\':
          value += '\\';
          break;
        case '/':
          value += '/';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'u': {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid unicode escape');
          // Lone surrogates are kept as code units, as Python keeps them in `str`.
          value += String.fromCharCode(Number.parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          fail('invalid escape');
      }
      pos += 2;
      runStart = pos;
    }
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    skipWhitespace();
    const start = pos;
    const c = text[pos];
    if (c === '{') {
      pos++;
      const entries: Array<[string, JsonNode]> = [];
      skipWhitespace();
      if (text[pos] === '}') {
        pos++;
        return { kind: 'object', start, end: pos, entries };
      }
      for (;;) {
        skipWhitespace();
        if (text[pos] !== '"') fail('expected a string key');
        const key = parseString().value;
        skipWhitespace();
        if (text[pos] !== ':') fail("expected ':'");
        pos++;
        entries.push([key, parseValue(depth + 1)]);
        skipWhitespace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return { kind: 'object', start, end: pos, entries };
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      pos++;
      const items: JsonNode[] = [];
      skipWhitespace();
      if (text[pos] === ']') {
        pos++;
        return { kind: 'array', start, end: pos, items };
      }
      for (;;) {
        items.push(parseValue(depth + 1));
        skipWhitespace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return { kind: 'array', start, end: pos, items };
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') {
      const s = parseString();
      return { kind: 'string', start: s.start, end: s.end, value: s.value };
    }
    if (text.startsWith('true', pos)) {
      pos += 4;
      return { kind: 'literal', start, end: pos, value: true };
    }
    if (text.startsWith('false', pos)) {
      pos += 5;
      return { kind: 'literal', start, end: pos, value: false };
    }
    if (text.startsWith('null', pos)) {
      pos += 4;
      return { kind: 'literal', start, end: pos, value: null };
    }
    NUMBER_RE.lastIndex = pos;
    if (NUMBER_RE.test(text)) {
      pos = NUMBER_RE.lastIndex;
      return { kind: 'number', start, end: pos };
    }
    return fail(pos >= text.length ? 'unexpected end of input' : 'unexpected character');
  };

  const root = parseValue(0);
  skipWhitespace();
  if (pos !== text.length) fail('trailing characters');
  return root;
}

/** The entry `key` of an object node, or undefined. Duplicate keys: the last wins, as in Python. */
export function member(node: JsonNode | undefined, key: string): JsonNode | undefined {
  if (node?.kind !== 'object') return undefined;
  let found: JsonNode | undefined;
  for (const [k, v] of node.entries) if (k === key) found = v;
  return found;
}

/** The value of a number node as a JavaScript number when it is a safe integer, else undefined. */
export function safeInteger(node: JsonNode | undefined, source: string): number | undefined {
  if (node?.kind !== 'number') return undefined;
  const text = source.slice(node.start, node.end);
  if (!/^-?(?:0|[1-9][0-9]*)$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}
