import { describe, expect, it } from 'vitest';
import {
  closePayload,
  encodeFrame,
  FrameParser,
  Opcode,
} from '../../helpers/clients/websocketFrames.js';
import { readFixture } from '../../helpers/fixtures.js';

interface RecordedFrame {
  opcode: number;
  fin: boolean;
  rsv: number;
  masked: boolean;
  payload_length: number;
  header_hex?: string;
  payload_hex?: string;
  text?: string;
  close_code?: number;
  close_reason?: string;
}
interface Session {
  scenarios: Array<{ name: string; received: RecordedFrame[]; sent: RecordedFrame[] }>;
}

const session = readFixture<Session>('odoo17', 'websocket-session.json');

function recordedBytes(frame: RecordedFrame): Buffer | undefined {
  if (frame.header_hex === undefined) return undefined;
  const payload =
    frame.payload_hex !== undefined
      ? Buffer.from(frame.payload_hex, 'hex')
      : frame.text !== undefined
        ? Buffer.from(frame.text, 'utf8')
        : undefined;
  if (payload === undefined || payload.length !== frame.payload_length) return undefined;
  return Buffer.concat([Buffer.from(frame.header_hex, 'hex'), payload]);
}

describe('FrameParser on the frames Odoo 17 sent', () => {
  const received = session.scenarios.flatMap((s) => s.received);
  const complete = received.filter((f) => recordedBytes(f) !== undefined);

  it('has recorded frames to check', () => {
    expect(complete.length).toBeGreaterThan(20);
  });

  it('parses each recorded frame, one byte at a time too', () => {
    for (const frame of complete) {
      const bytes = recordedBytes(frame) as Buffer;
      const whole = new FrameParser().push(bytes);
      expect(whole).toHaveLength(1);
      const parsed = whole[0];
      expect(parsed?.opcode).toBe(frame.opcode);
      expect(parsed?.fin).toBe(frame.fin);
      expect(parsed?.rsv).toBe(frame.rsv);
      expect(parsed?.masked).toBe(frame.masked);
      expect(parsed?.headerHex).toBe(frame.header_hex);
      if (frame.close_code !== undefined) {
        expect(parsed?.closeCode).toBe(frame.close_code);
        expect(parsed?.closeReason).toBe(frame.close_reason);
      }
      if (frame.text !== undefined) expect(parsed?.text).toBe(frame.text);
      const drip = new FrameParser();
      const frames = [...bytes].flatMap((byte) => drip.push(Buffer.from([byte])));
      expect(frames).toHaveLength(1);
      expect(drip.buffered).toBe(0);
    }
  });
});

describe('encodeFrame', () => {
  it('masks client frames and the parser unmasks them', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    const bytes = encodeFrame({ opcode: Opcode.TEXT, payload: 'héllo', mask: key });
    expect(bytes[1]).toBe(0x80 | 6);
    expect(bytes.subarray(2, 6)).toEqual(key);
    const [frame] = new FrameParser().push(bytes);
    expect(frame?.text).toBe('héllo');
    expect(frame?.masked).toBe(true);
  });

  it('builds the recorded violations: unmasked, RSV1, reserved opcode, fragments', () => {
    expect(encodeFrame({ opcode: Opcode.TEXT, payload: 'x', mask: false })).toEqual(
      Buffer.from([0x81, 0x01, 0x78]),
    );
    expect(encodeFrame({ opcode: Opcode.TEXT, rsv1: true, mask: false })[0]).toBe(0xc1);
    expect(encodeFrame({ opcode: 3, mask: false })[0]).toBe(0x83);
    expect(encodeFrame({ opcode: Opcode.TEXT, fin: false, mask: false })[0]).toBe(0x01);
    expect(encodeFrame({ opcode: Opcode.CONTINUATION, mask: false })[0]).toBe(0x80);
  });

  it('writes 16- and 64-bit lengths, minimal or forced', () => {
    const medium = encodeFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(200), mask: false });
    expect(medium.subarray(0, 4)).toEqual(Buffer.from([0x82, 126, 0, 200]));
    const forced = encodeFrame({
      opcode: Opcode.PING,
      payload: 'a',
      mask: false,
      lengthEncoding: 64,
    });
    expect(forced.subarray(0, 10)).toEqual(Buffer.from([0x89, 127, 0, 0, 0, 0, 0, 0, 0, 1]));
    expect(new FrameParser().push(forced)[0]?.payload.toString()).toBe('a');
  });

  it('declares a length without sending the payload (oversize announcements)', () => {
    const header = encodeFrame({ opcode: Opcode.TEXT, declaredLength: 2 ** 21, mask: false });
    expect(header).toEqual(Buffer.from([0x81, 127, 0, 0, 0, 0, 0, 0x20, 0, 0]));
    const parser = new FrameParser();
    expect(parser.push(header)).toEqual([]);
    expect(parser.buffered).toBe(10);
  });

  it('encodes close payloads', () => {
    expect(closePayload(1000).toString('hex')).toBe('03e8');
    expect(closePayload(4001, 'x').toString('hex')).toBe('0fa178');
    expect(closePayload()).toHaveLength(0);
  });
});
