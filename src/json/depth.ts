/**
 * How deep a JSON text nests, read before it is parsed: both transports refuse a message (or hand
 * a poll to Odoo) that nests deeper than any real one, so that no client value of unknown depth
 * reaches a recursive walk later (`JSON.stringify` of a call to Odoo).
 */

/** Nesting of arrays and objects accepted in one message or poll; real ones reach 4. */
export const MAX_MESSAGE_DEPTH = 32;

/**
 * Whether the JSON text nests arrays and objects deeper than `max`, read without parsing (brackets
 * inside strings do not count). Text that is not JSON is left to the parser.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
