/**
 * The few Python semantics the fake's routes need so that bad parameters fail the way Odoo's do:
 * exceptions by class name, `int()`, truthiness, iteration, and the type names in messages.
 */

/** A Python exception, to become a JSON-RPC error envelope (`builtins.ValueError`, ...). */
export class PythonException extends Error {
  constructor(
    readonly pythonClass: string,
    message: string,
  ) {
    super(message);
    this.name = 'PythonException';
  }
}

export function pythonTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'str';
  if (Array.isArray(value)) return 'list';
  return 'dict';
}

export function pythonRepr(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

export function pythonTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

/** `int(value)` for a JSON value. */
export function pythonInt(value: unknown): number {
  if (typeof value === 'boolean') return Number(value);
  if (typeof value === 'number') return Math.trunc(value);
  if (typeof value === 'string') {
    if (/^\s*[+-]?\d+(?:_\d+)*\s*$/.test(value))
      return Number.parseInt(value.replaceAll('_', ''), 10);
    throw new PythonException(
      'builtins.ValueError',
      `invalid literal for int() with base 10: ${pythonRepr(value)}`,
    );
  }
  throw new PythonException(
    'builtins.TypeError',
    `int() argument must be a string, a bytes-like object or a real number, not '${pythonTypeName(value)}'`,
  );
}

/** `list(value)`: strings iterate characters and dicts their keys, as in Python. */
export function pythonList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [...value];
  if (value !== null && typeof value === 'object') return Object.keys(value);
  throw new PythonException(
    'builtins.TypeError',
    `'${pythonTypeName(value)}' object is not iterable`,
  );
}

/** `value > other` where `other` is an int: only numbers (and bools) compare. */
export function assertComparableToInt(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return Number(value);
  throw new PythonException(
    'builtins.TypeError',
    `'>' not supported between instances of '${pythonTypeName(value)}' and 'int'`,
  );
}

/**
 * Binds JSON-RPC params to a route's Python signature (`endpoint(**params)`): missing required
 * arguments raise Python's own TypeError; unknown ones are dropped, as Odoo does with a warning.
 */
export function bindParams(
  qualifiedName: string,
  params: unknown,
  required: readonly string[],
): Record<string, unknown> {
  const given =
    params !== null && typeof params === 'object' && !Array.isArray(params)
      ? (params as Record<string, unknown>)
      : {};
  const missing = required.filter((name) => !(name in given));
  if (missing.length > 0) {
    const quoted = missing.map((name) => `'${name}'`);
    const list =
      quoted.length === 1
        ? quoted[0]
        : quoted.length === 2
          ? `${quoted[0]} and ${quoted[1]}`
          : `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}`;
    const noun = missing.length === 1 ? 'argument' : 'arguments';
    throw new PythonException(
      'builtins.TypeError',
      `${qualifiedName}() missing ${missing.length} required positional ${noun}: ${list}`,
    );
  }
  return given;
}
