/**
 * One batch of rows going to a group of subscribers, encoded at most once per form and shared by
 * all of them: the JSON text, and for websockets the complete unmasked TEXT frame (header included),
 * so that delivering to a socket is a single write of bytes built once.
 */
import type { BusRow, Notification } from '../bus/types.js';
import { encodeBatch } from './fanout.js';

export class EncodedBatch<R extends Notification = BusRow> {
  private payloadBytes: Buffer | undefined;
  private frameBytes: Buffer | undefined;

  constructor(readonly rows: readonly R[]) {}

  /** Highest id of the batch (rows are ascending). */
  get lastId(): number {
    return this.rows.length === 0 ? 0 : (this.rows[this.rows.length - 1] as R).id;
  }

  /** `[{"id":..,"message":..},...]` as UTF-8. */
  get payload(): Buffer {
    this.payloadBytes ??= Buffer.from(encodeBatch(this.rows), 'utf8');
    return this.payloadBytes;
  }

  /** The payload as one websocket TEXT frame (FIN, unmasked, as a server sends it). */
  get websocketFrame(): Buffer {
    this.frameBytes ??= textFrame(this.payload);
    return this.frameBytes;
  }
}

export function textFrame(payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81; // FIN + TEXT
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  payload.copy(frame, headerLength);
  return frame;
}
