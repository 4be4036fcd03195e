/**
 * The load generator's side of the wire, kept lean so that tens of thousands of sockets cost the
 * client processes little: the upgrade request, a reader of the server's (unmasked) frames that
 * copies bytes only when a frame spans two reads, and the masked frames a client must send.
 */
import { randomBytes } from 'node:crypto';

export const OP_TEXT = 0x1;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export interface UpgradeRequest {
  /** `Host` header (`127.0.0.1:8072`). */
  host: string;
  path: string;
  origin: string;
  cookie: string | undefined;
  userAgent: string | undefined;
}

export function upgradeRequest(r: UpgradeRequest): Buffer {
  const key = randomBytes(16).toString('base64');
  const lines = [
    `GET ${r.path} HTTP/1.1`,
    `Host: ${r.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    `Origin: ${r.origin}`,
  ];
  if (r.cookie) lines.push(`Cookie: ${r.cookie}`);
  if (r.userAgent) lines.push(`User-Agent: ${r.userAgent}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** A masked client frame (FIN set), as RFC 6455 requires of clients. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extended + 4 + length);
  frame[0] = 0x80 | opcode;
  if (extended === 0) frame[1] = 0x80 | length;
  else if (extended === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const keyAt = 2 + extended;
  randomBytes(4).copy(frame, keyAt);
  for (let i = 0; i < length; i++) {
    frame[keyAt + 4 + i] = (payload[i] as number) ^ (frame[keyAt + (i & 3)] as number);
  }
  return frame;
}

export type FrameHandler = (opcode: number, payload: Buffer) => void;

/**
 * Splits a byte stream into server frames. State is one optional Buffer: the unfinished tail of
 * the previous read, if any. Fragmented messages are not expected from the servers measured here
 * (every notification is one FIN frame); a continuation frame is passed on with its own opcode.
 */
export class ServerFrameReader {
  private tail: Buffer | undefined;

  push(chunk: Buffer, onFrame: FrameHandler): void {
    let data = chunk;
    if (this.tail !== undefined) {
      data = Buffer.concat([this.tail, chunk]);
      this.tail = undefined;
    }
    let offset = 0;
    while (offset < data.length) {
      if (data.length - offset < 2) break;
      const first = data[offset] as number;
      const second = data[offset + 1] as number;
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if ((second & 0x80) !== 0) header += 4;
      if (data.length - offset < header + length) break;
      onFrame(first & 0x0f, data.subarray(offset + header, offset + header + length));
      offset += header + length;
    }
    if (offset < data.length) this.tail = Buffer.from(data.subarray(offset));
  }
}
