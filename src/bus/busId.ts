/**
 * `bus_bus.id` as the sidecar handles it. Odoo creates the column as `serial` (int4); an admin may
 * have made it `bigint`. Ids are read as text and accepted only as safe integers: every id a
 * client receives is a JSON number, and Odoo's web client (JavaScript) cannot tell apart two ids
 * above 2^53 - 1. Such an id is refused, never rounded.
 */

/** The highest id that survives JSON and JavaScript numbers exactly: 2^53 - 1. */
export const MAX_BUS_ID = Number.MAX_SAFE_INTEGER;

export class UnrepresentableIdError extends Error {
  override name = 'UnrepresentableIdError';
  constructor(
    readonly database: string,
    readonly idText: string,
  ) {
    super(
      `bus_bus.id ${idText} in database "${database}" is above 2^53 - 1 (${MAX_BUS_ID}): ` +
        "Odoo's web client reads ids as JavaScript numbers and cannot represent it exactly, so " +
        'the sidecar delivers nothing at or past it. Restart the sequence below that limit ' +
        "(ALTER SEQUENCE bus_bus_id_seq RESTART, after removing the rows above it) or let Odoo's " +
        'column keep its own type (integer).',
    );
  }
}

/**
 * The id of a row, from PostgreSQL's text (or a number from an int4 column); `undefined` when it
 * cannot be represented exactly.
 */
export function parseBusId(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string' || !/^-?\d{1,20}$/.test(value)) return undefined;
  const id = Number(value);
  return Number.isSafeInteger(id) ? id : undefined;
}
