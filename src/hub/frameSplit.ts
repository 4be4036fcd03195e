/**
 * Cuts the rows of one delivery into frames of at most `maxFrameBytes` each, in order, so that no
 * frame comes near the limits of a JavaScript string (about 512 MiB, past which encoding a batch
 * throws) nor of a client's memory. A row larger than the limit goes alone in a frame of its own:
 * Odoo's client accepts frames of any size, and Odoo itself would send it. Rows are never
 * reordered: a subscriber receives the frames one after the other, ids ascending across them.
 */
import { ROW_OVERHEAD_BYTES } from '../bus/types.js';

export interface SizedRow {
  readonly message: string;
  /** UTF-8 size of `message` when known (computed otherwise). */
  readonly bytes?: number;
}

/** What a row adds to a frame: its message and the `{"id":…,"message":…},` around it. */
export function frameWeight(row: SizedRow): number {
  return (row.bytes ?? Buffer.byteLength(row.message, 'utf8')) + ROW_OVERHEAD_BYTES;
}

/** The rows as consecutive frames of at most `maxFrameBytes` (a larger row alone), none empty. */
export function splitBySize<R extends SizedRow>(rows: readonly R[], maxFrameBytes: number): R[][] {
  if (rows.length === 0) return [];
  let total = 0;
  for (const row of rows) total += frameWeight(row);
  // The usual case: one frame, no copy.
  if (total <= maxFrameBytes) return [rows as R[]];
  const frames: R[][] = [];
  let current: R[] = [];
  let bytes = 0;
  for (const row of rows) {
    const weight = frameWeight(row);
    if (current.length > 0 && bytes + weight > maxFrameBytes) {
      frames.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += weight;
  }
  if (current.length > 0) frames.push(current);
  return frames;
}
