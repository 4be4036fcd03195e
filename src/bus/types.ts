/** What a client receives: an id and Odoo's message text. */
export interface Notification {
  readonly id: number;
  /** JSON text, spliced into frames as is. */
  readonly message: string;
}

/** One `bus_bus` row as the sidecar handles it: Odoo's texts, never re-encoded. */
export interface BusRow extends Notification {
  readonly id: number;
  /** `bus_bus.channel` exactly as stored (Python compact JSON): the subscription key. */
  readonly channel: string;
  /** `bus_bus.message` exactly as stored; spliced into frames as is. */
  readonly message: string;
  /** When the sidecar read it, on its reader's monotonic clock (compare with nothing else). */
  readonly readAt: number;
  /** Read order within its database's reader (1, 2, ...): tells which rows were read after a moment. */
  readonly seq: number;
  /**
   * Committed after a higher id had been read (it filled a hole): a client whose `last` is above
   * it has never seen it. Long polling delivers such rows below a poll's `last`.
   */
  readonly late?: boolean;
  /** Size of `message` in UTF-8 bytes, when known (the reader takes it from PostgreSQL). */
  readonly bytes?: number;
}

/** `{"id":<id>,"message":<raw message>}`: the element of a websocket batch, built once per row. */
export function notificationJson(row: { id: number; message: string }): string {
  return `{"id":${row.id},"message":${row.message}}`;
}

/**
 * What one row weighs in a frame: its message plus the `{"id":…,"message":…}` around it and the
 * comma (at most 40 bytes with a 16-digit id). The reader's pages and the hub's frames weigh alike.
 */
export const ROW_OVERHEAD_BYTES = 40;
