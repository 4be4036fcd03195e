/**
 * RFC 6455 frames at the byte level, with every field under the caller's control — including the
 * ones a correct client never gets wrong (masking, RSV bits, reserved opcodes, control frames over
 * 125 bytes, lengths in a non-minimal form, a declared length with no payload behind it). Pure.
 */
import { randomBytes } from 'node:crypto';

export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'CONTINUE',
  1: 'TEXT',
  2: 'BINARY',
  8: 'CLOSE',
  9: 'PING',
  10: 'PONG',
};

export interface FrameSpec {
  /** Any 4-bit value, reserved ones included. */
  opcode: number;
  payload?: Buffer | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** true: a random key (default, as clients must); false: unmasked; or this 4-byte key. */
  mask?: boolean | Buffer;
  /** Length written in the header instead of the payload's (e.g. 2 MiB announced, nothing sent). */
  declaredLength?: number;
  /** 7: in the first byte; 16: 126 + 2 bytes; 64: 127 + 8 bytes. Default: the shortest that fits. */
  lengthEncoding?: 'auto' | 7 | 16 | 64;
}

function lengthField(length: number, encoding: 'auto' | 7 | 16 | 64): Buffer {
  const form = encoding === 'auto' ? (length < 126 ? 7 : length < 65536 ? 16 : 64) : encoding;
  if (form === 7) {
    if (length > 125) throw new RangeError(`${length} does not fit the 7-bit length form`);
    return Buffer.from([length]);
  }
  if (form === 16) {
    if (length > 0xffff) throw new RangeError(`${length} does not fit the 16-bit length form`);
    const out = Buffer.alloc(3);
    out[0] = 126;
    out.writeUInt16BE(length, 1);
    return out;
  }
  const out = Buffer.alloc(9);
  out[0] = 127;
  out.writeBigUInt64BE(BigInt(length), 1);
  return out;
}

export function applyMask(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0);
  return out;
}

/** Header (+ masking key) + payload, masked when asked. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload, 'utf8')
      : (spec.payload ?? Buffer.alloc(0));
  const first =
    ((spec.fin ?? true) ? 0x80 : 0) |
    (spec.rsv1 === true ? 0x40 : 0) |
    (spec.rsv2 === true ? 0x20 : 0) |
    (spec.rsv3 === true ? 0x10 : 0) |
    (spec.opcode & 0x0f);
  const length = lengthField(spec.declaredLength ?? payload.length, spec.lengthEncoding ?? 'auto');
  const maskOption = spec.mask ?? true;
  if (maskOption === false) return Buffer.concat([Buffer.from([first]), length, payload]);
  const key = maskOption === true ? randomBytes(4) : maskOption;
  if (key.length !== 4) throw new RangeError('a masking key is 4 bytes');
  length[0] = (length[0] ?? 0) | 0x80;
  return Buffer.concat([Buffer.from([first]), length, key, applyMask(payload, key)]);
}

/** A CLOSE payload: 2-byte code + UTF-8 reason, or empty when no code. */
export function closePayload(code?: number, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const out = Buffer.alloc(2);
  out.writeUInt16BE(code, 0);
  return Buffer.concat([out, Buffer.from(reason, 'utf8')]);
}

export interface ParsedFrame {
  fin: boolean;
  /** RSV1..3 as a 3-bit number (0 when none set). */
  rsv: number;
  opcode: number;
  op: string;
  masked: boolean;
  payload: Buffer;
  /** Header bytes as hex, as the recordings show them (`817e0645`). */
  headerHex: string;
  /** TEXT frames (and CLOSE reasons) decoded as UTF-8. */
  text?: string;
  closeCode?: number;
  closeReason?: string;
}

/** Incremental parser: push bytes as they come, get whole frames out. */
export class FrameParser {
  private buffer: Buffer = Buffer.alloc(0);

  get buffered(): number {
    return this.buffer.length;
  }

  push(chunk: Buffer): ParsedFrame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: ParsedFrame[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    return frames;
  }

  private next(): ParsedFrame | undefined {
    const b = this.buffer;
    if (b.length < 2) return undefined;
    const first = b[0] ?? 0;
    const second = b[1] ?? 0;
    const masked = (second & 0x80) !== 0;
    let length = second & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(b.readBigUInt64BE(2));
      offset = 10;
    }
    const keyEnd = offset + (masked ? 4 : 0);
    if (b.length < keyEnd + length) return undefined;
    const raw = b.subarray(keyEnd, keyEnd + length);
    const payload = masked ? applyMask(raw, b.subarray(offset, keyEnd)) : Buffer.from(raw);
    const opcode = first & 0x0f;
    const frame: ParsedFrame = {
      fin: (first & 0x80) !== 0,
      rsv: (first >> 4) & 0x07,
      opcode,
      op: OPCODE_NAMES[opcode] ?? `RESERVED_${opcode}`,
      masked,
      payload,
      headerHex: b.subarray(0, keyEnd).toString('hex'),
    };
    if (opcode === Opcode.TEXT) frame.text = payload.toString('utf8');
    if (opcode === Opcode.CLOSE && payload.length >= 2) {
      frame.closeCode = payload.readUInt16BE(0);
      frame.closeReason = payload.subarray(2).toString('utf8');
    }
    this.buffer = b.subarray(keyEnd + length);
    return frame;
  }
}
