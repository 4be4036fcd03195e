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

/** Deeper nesting than this is refused rather than risking the call stack of later walks. */
const MAX_DEPTH = 256;

/** Text parsed between two yields to the event loop by `parseJsonInSlices` (a few ms of work). */
const SLICE_CHARS = 256 * 1024;

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

type ContainerNode = Extract<JsonNode, { kind: 'object' | 'array' }>;

/** An open object or array, and for an object the key of the value being read. */
interface Frame {
  node: ContainerNode;
  key: string;
}

const EXPECT_VALUE = 0;
const EXPECT_KEY = 1;
const AFTER_VALUE = 2;

/**
 * The parser as a state machine with its own stack instead of recursion, so that it can stop
 * between two values and go on later (`parseJsonInSlices`), and so that a text cut short still
 * gives the values it holds whole (`prefix`).
 */
class Parser {
  pos = 0;
  root: JsonNode | undefined;
  private state = EXPECT_VALUE;
  private readonly stack: Frame[] = [];

  constructor(private readonly text: string) {}

  /** Parses until the whole text is read (true) or `stop` is passed between two values (false). */
  run(stop: number): boolean {
    const text = this.text;
    const stack = this.stack;
    while (this.root === undefined) {
      if (this.pos >= stop) return false;
      this.skipWhitespace();
      if (this.state === EXPECT_KEY) {
        if (text.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key');
        const key = this.parseString().value;
        this.skipWhitespace();
        if (text.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'");
        this.pos++;
        (stack[stack.length - 1] as Frame).key = key;
        this.state = EXPECT_VALUE;
        continue;
      }
      if (this.state === AFTER_VALUE) {
        const top = stack[stack.length - 1] as Frame;
        const c = text.charCodeAt(this.pos);
        const isObject = top.node.kind === 'object';
        if (c === 0x2c) {
          this.pos++;
          this.state = isObject ? EXPECT_KEY : EXPECT_VALUE;
          continue;
        }
        if (c === (isObject ? 0x7d : 0x5d)) {
          this.pos++;
          top.node.end = this.pos;
          stack.pop();
          this.complete(top.node);
          continue;
        }
        this.fail(isObject ? "expected ',' or '}'" : "expected ',' or ']'");
      }
      this.value();
    }
    this.skipWhitespace();
    if (this.pos !== text.length) this.fail('trailing characters');
    return true;
  }

  /**
   * For a text cut short: the values read whole stay where they are; the objects and arrays still
   * open are closed where the text ends and returned as `cut`, whatever the text holds after the
   * last value read whole (a partial value, or bytes that are not JSON) is left out.
   */
  finishPrefix(): { root: JsonNode; cut: Set<JsonNode> } {
    const cut = new Set<JsonNode>();
    const stack = this.stack;
    while (stack.length > 0) {
      const frame = stack.pop() as Frame;
      const node = frame.node;
      const lastChild = node.kind === 'object' ? node.entries.at(-1)?.[1] : node.items.at(-1);
      node.end = lastChild?.end ?? node.start + 1;
      // A number has no end mark: one followed only by what could continue it may be cut short.
      if (lastChild?.kind === 'number' && /^[0-9.eE+-]*$/.test(this.text.slice(lastChild.end)))
        cut.add(lastChild);
      cut.add(node);
      const parent = stack[stack.length - 1];
      if (parent === undefined) this.root = node;
      else if (parent.node.kind === 'object') parent.node.entries.push([parent.key, node]);
      else parent.node.items.push(node);
    }
    if (this.root === undefined) this.fail('no value before the end of the text');
    return { root: this.root as JsonNode, cut };
  }

  private value(): void {
    if (this.stack.length > MAX_DEPTH) this.fail('nesting too deep');
    const text = this.text;
    const start = this.pos;
    const c = text.charCodeAt(start);
    if (c === 0x7b || c === 0x5b) {
      this.pos++;
      const node: ContainerNode =
        c === 0x7b
          ? { kind: 'object', start, end: 0, entries: [] }
          : { kind: 'array', start, end: 0, items: [] };
      this.skipWhitespace();
      if (text.charCodeAt(this.pos) === (c === 0x7b ? 0x7d : 0x5d)) {
        this.pos++;
        node.end = this.pos;
        this.complete(node);
        return;
      }
      this.stack.push({ node, key: '' });
      this.state = c === 0x7b ? EXPECT_KEY : EXPECT_VALUE;
      return;
    }
    if (c === 0x22) {
      const s = this.parseString();
      this.complete({ kind: 'string', start: s.start, end: s.end, value: s.value });
      return;
    }
    if (text.startsWith('true', start)) {
      this.pos += 4;
      this.complete({ kind: 'literal', start, end: this.pos, value: true });
      return;
    }
    if (text.startsWith('false', start)) {
      this.pos += 5;
      this.complete({ kind: 'literal', start, end: this.pos, value: false });
      return;
    }
    if (text.startsWith('null', start)) {
      this.pos += 4;
      this.complete({ kind: 'literal', start, end: this.pos, value: null });
      return;
    }
    NUMBER_RE.lastIndex = start;
    if (NUMBER_RE.test(text)) {
      this.pos = NUMBER_RE.lastIndex;
      this.complete({ kind: 'number', start, end: this.pos });
      return;
    }
    this.fail(start >= text.length ? 'unexpected end of input' : 'unexpected character');
  }

  /** A value was read whole: it joins the open container, or is the root. */
  private complete(node: JsonNode): void {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) {
      this.root = node;
      return;
    }
    if (top.node.kind === 'object') top.node.entries.push([top.key, node]);
    else top.node.items.push(node);
    this.state = AFTER_VALUE;
  }

  private skipWhitespace(): void {
    const text = this.text;
    let pos = this.pos;
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
    this.pos = pos;
  }

  private parseString(): { value: string; start: number; end: number } {
    const text = this.text;
    const start = this.pos;
    let pos = start + 1; // opening quote
    let value = '';
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) this.fail('unterminated string', pos);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        value += text.slice(runStart, pos);
        pos++;
        this.pos = pos;
        return { value, start, end: pos };
      }
      if (c < 0x20) this.fail('control character in string', pos);
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
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid unicode escape', pos);
          // Lone surrogates are kept as code units, as Python keeps them in `str`.
          value += String.fromCharCode(Number.parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          this.fail('invalid escape', pos);
      }
      pos += 2;
      runStart = pos;
    }
  }

  private fail(message: string, at: number = this.pos): never {
    throw new JsonSyntaxError(message, at);
  }
}

export function parseJson(text: string): JsonNode {
  const parser = new Parser(text);
  parser.run(Number.POSITIVE_INFINITY);
  return parser.root as JsonNode;
}

export interface ParsedJson {
  root: JsonNode;
  /**
   * Only for a `prefix` parse: the objects and arrays the end of the text cut short (and a number
   * that may have been). Everything else in the tree was read whole.
   */
  cut: ReadonlySet<JsonNode> | undefined;
}

/**
 * `parseJson` a slice of text at a time, yielding to the event loop between slices, so that a
 * large answer (a catch-up of many rows) does not stall every other socket and the health probes.
 * With `prefix`, the text is known to be cut short (an answer read up to a size bound): the values
 * read whole are returned, see `ParsedJson.cut`.
 */
export async function parseJsonInSlices(
  text: string,
  options: { prefix?: boolean; sliceChars?: number } = {},
): Promise<ParsedJson> {
  const slice = options.sliceChars ?? SLICE_CHARS;
  const parser = new Parser(text);
  try {
    while (!parser.run(parser.pos + slice)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { root: parser.root as JsonNode, cut: options.prefix ? new Set() : undefined };
  } catch (error) {
    if (!options.prefix || !(error instanceof JsonSyntaxError)) throw error;
    return parser.finishPrefix();
  }
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
