/**
 * Python-compatible JSON text.
 *
 * Odoo stores `bus_bus.channel` as `json.dumps(value, separators=(',', ':'))` with Python's default
 * `ensure_ascii=True`, and matches rows by *text* equality. A subscription key must therefore be the
 * byte-exact text Python would produce, which `JSON.stringify` is not: it leaves non-ASCII raw, and
 * round-tripping through JavaScript values loses `2.0` vs `2` and integers above 2^53.
 *
 * Two entry points:
 * - `pythonDumps(value)` encodes a JavaScript value the way Python encodes the equivalent object;
 * - `canonicalJson(text)` re-emits existing JSON text token by token (numbers kept verbatim), which is
 *   exact for any JSON Odoo produced, whatever its separators or `ensure_ascii` setting.
 */
import { type JsonNode, parseJson } from './rawJson.js';

export interface PythonDumpsOptions {
  /** `separators=(',', ':')` when true (Odoo's `json_dump`), Python's default `(', ', ': ')` when false. */
  compact?: boolean;
  /** Python's `ensure_ascii`: escape every character outside U+0020..U+007E. Default true. */
  ensureAscii?: boolean;
}

function hex4(code: number): string {
  return code.toString(16).padStart(4, '0');
}

const SHORT_ESCAPES: Record<number, string> = {
  34: '\\"',
  92: '\\\\',
  8: '\\b',
  12: '\\f',
  10: '\\n',
  13: '\\r',
  9: '\\t',
};

/** Quotes a string exactly as Python's `json` module does (lowercase `\uXXXX`, `/` unescaped). */
export function pythonQuote(value: string, ensureAscii = true): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    // Python's ESCAPE_ASCII is `([\\"]|[^\ -~])`: DEL (0x7f) and everything above is escaped.
    const plain = ensureAscii
      ? code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c
      : code >= 0x20 && code !== 0x22 && code !== 0x5c;
    if (plain) continue;
    out += value.slice(runStart, i);
    // UTF-16 code units are exactly Python's surrogate-pair escapes for characters above the BMP.
    out += SHORT_ESCAPES[code] ?? `\\u${hex4(code)}`;
    runStart = i + 1;
  }
  return `${out + value.slice(runStart)}"`;
}

/** Formats a number as Python's `float.__repr__` / `int.__str__` would after `json.loads`. */
function pythonNumber(value: number): string {
  if (!Number.isFinite(value)) {
    // Python emits NaN/Infinity (invalid JSON); Odoo never stores them, so refuse rather than guess.
    throw new TypeError(`cannot encode non-finite number ${value}`);
  }
  if (Number.isInteger(value) && !Object.is(value, -0)) return String(value);
  if (Object.is(value, -0)) return '-0.0';
  // Python switches to exponent notation when the decimal exponent is < -4 or >= 16.
  const exponent = Math.floor(Math.log10(Math.abs(value)));
  if (exponent < -4 || exponent >= 16) {
    const [mantissa, exp] = value.toExponential().split('e') as [string, string];
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  return String(value);
}

/** Encodes a JavaScript value like Python's `json.dumps`. Integers stay integers (`7`, not `7.0`). */
export function pythonDumps(value: unknown, options: PythonDumpsOptions = {}): string {
  const compact = options.compact ?? true;
  const ensureAscii = options.ensureAscii ?? true;
  const itemSep = compact ? ',' : ', ';
  const keySep = compact ? ':' : ': ';
  const encode = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'number') return pythonNumber(v);
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') return pythonQuote(v, ensureAscii);
    if (Array.isArray(v)) return `[${v.map(encode).join(itemSep)}]`;
    if (typeof v === 'object') {
      const parts = Object.entries(v as Record<string, unknown>).map(
        ([k, item]) => pythonQuote(k, ensureAscii) + keySep + encode(item),
      );
      return `{${parts.join(itemSep)}}`;
    }
    throw new TypeError(`cannot encode ${typeof v}`);
  };
  return encode(value);
}

/** Re-emits a parsed node as Python would, keeping each number's original text. */
export function dumpNode(node: JsonNode, source: string, options: PythonDumpsOptions = {}): string {
  const compact = options.compact ?? true;
  const ensureAscii = options.ensureAscii ?? true;
  const itemSep = compact ? ',' : ', ';
  const keySep = compact ? ':' : ': ';
  const emit = (n: JsonNode): string => {
    switch (n.kind) {
      case 'string':
        return pythonQuote(n.value, ensureAscii);
      case 'number':
        return source.slice(n.start, n.end);
      case 'literal':
        return source.slice(n.start, n.end);
      case 'array':
        return `[${n.items.map(emit).join(itemSep)}]`;
      case 'object':
        return `{${n.entries.map(([k, v]) => pythonQuote(k, ensureAscii) + keySep + emit(v)).join(itemSep)}}`;
    }
  };
  return emit(node);
}

/**
 * The exact text Odoo writes in `bus_bus.channel` for the JSON value in `text`: compact separators,
 * `ensure_ascii` escapes, numbers untouched. Throws `JsonSyntaxError` on invalid JSON.
 */
export function canonicalJson(text: string): string {
  return dumpNode(parseJson(text), text);
}
