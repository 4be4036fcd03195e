/**
 * nginx's configuration syntax, enough to read and rewrite the project's `deploy/nginx.conf`:
 * directives are words ending with `;` or with a `{ ... }` block; `#` starts a comment outside
 * quotes; arguments may be single- or double-quoted, with backslash escapes. Arguments are kept as
 * written (quotes included), so rendering changes nothing that was not edited. Comments are dropped.
 */

export interface Directive {
  name: string;
  /** Raw arguments, quotes kept (`''` is the empty string, `$http_upgrade` a variable). */
  args: string[];
  /** Present for block directives (`http`, `server`, `location /x`, `upstream name`, `map`). */
  block?: Directive[];
  /** 1-based line of the directive's name, for error messages. */
  line: number;
}

interface Token {
  text: string;
  line: number;
  /** `;`, `{` and `}` outside quotes. */
  special: boolean;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') line++;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === ';' || c === '{' || c === '}') {
      tokens.push({ text: c, line, special: true });
      i++;
      continue;
    }
    const start = i;
    const startLine = line;
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') i++;
        if (text[i] === '\n') line++;
        i++;
      }
      if (i >= text.length) throw new Error(`line ${startLine}: unterminated ${c} string`);
      i++;
    } else {
      while (i < text.length && !/[\s;{}]/.test(text[i] as string)) {
        if (text[i] === '\\') i++;
        i++;
      }
    }
    tokens.push({ text: text.slice(start, i), line: startLine, special: false });
  }
  return tokens;
}

export function parseNginx(text: string): Directive[] {
  const tokens = tokenize(text);
  let pos = 0;
  const parseBlock = (closing: boolean): Directive[] => {
    const directives: Directive[] = [];
    for (;;) {
      const token = tokens[pos];
      if (token === undefined) {
        if (closing) throw new Error('unexpected end of file: a "}" is missing');
        return directives;
      }
      if (token.special && token.text === '}') {
        if (!closing) throw new Error(`line ${token.line}: unexpected "}"`);
        pos++;
        return directives;
      }
      if (token.special) throw new Error(`line ${token.line}: unexpected "${token.text}"`);
      const directive: Directive = { name: token.text, args: [], line: token.line };
      pos++;
      for (;;) {
        const next = tokens[pos];
        if (next === undefined) throw new Error(`line ${token.line}: "${token.text}" never ends`);
        pos++;
        if (!next.special) {
          directive.args.push(next.text);
        } else if (next.text === ';') {
          break;
        } else if (next.text === '{') {
          directive.block = parseBlock(true);
          break;
        } else {
          throw new Error(`line ${next.line}: "${token.text}" is not terminated by ";"`);
        }
      }
      directives.push(directive);
    }
  };
  return parseBlock(false);
}

export function renderNginx(directives: readonly Directive[], indent = ''): string {
  return directives
    .map((d) => {
      const head = [d.name, ...d.args].join(' ');
      if (d.block === undefined) return `${indent}${head};\n`;
      return `${indent}${head} {\n${renderNginx(d.block, `${indent}  `)}${indent}}\n`;
    })
    .join('');
}

/** The value of a raw argument: quotes removed and escapes resolved. */
export function unquote(raw: string): string {
  const quoted = raw.length >= 2 && (raw[0] === '"' || raw[0] === "'") && raw.at(-1) === raw[0];
  const inner = quoted ? raw.slice(1, -1) : raw;
  return inner.replace(/\\(.)/g, '$1');
}

/** A raw argument for `value`, quoted only when nginx needs it. */
export function quote(value: string): string {
  if (value !== '' && !/[\s;{}#"'\\]/.test(value)) return value;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Direct children named `name`. */
export function children(block: readonly Directive[], name: string): Directive[] {
  return block.filter((d) => d.name === name);
}

/** Every directive named `name`, at any depth, in file order. */
export function findAll(block: readonly Directive[], name: string): Directive[] {
  return block.flatMap((d) => [
    ...(d.name === name ? [d] : []),
    ...(d.block === undefined ? [] : findAll(d.block, name)),
  ]);
}
