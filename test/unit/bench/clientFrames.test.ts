import { describe, expect, it } from 'vitest';
import {
  maskedFrame,
  OP_PING,
  OP_TEXT,
  ServerFrameReader,
  upgradeRequest,
} from '../../../bench/clientFrames.js';
import { textFrame } from '../../../src/hub/encodedBatch.js';
import { FrameParser } from '../../helpers/clients/websocketFrames.js';

describe('ServerFrameReader', () => {
  it('reads frames of every length form, split anywhere between reads', () => {
    const payloads = [
      'x',
      'y'.repeat(125),
      'z'.repeat(126),
      'w'.repeat(70_000),
      '[{"id":1,"message":{}}]',
    ];
    const bytes = Buffer.concat(payloads.map((p) => textFrame(Buffer.from(p))));
    for (const step of [1, 3, 7, 1000, bytes.length]) {
      const reader = new ServerFrameReader();
      const got: string[] = [];
      for (let i = 0; i < bytes.length; i += step) {
        reader.push(bytes.subarray(i, i + step), (opcode, payload) => {
          expect(opcode).toBe(OP_TEXT);
          got.push(payload.toString());
        });
      }
      expect(got).toEqual(payloads);
    }
  });
});

describe('client frames', () => {
  it('masks what it sends, as a client must', () => {
    const frame = maskedFrame(OP_PING, Buffer.from('hello'));
    const [parsed] = new FrameParser().push(frame);
    expect(parsed?.masked).toBe(true);
    expect(parsed?.opcode).toBe(OP_PING);
    expect(parsed?.payload.toString()).toBe('hello');
  });

  it('asks for an upgrade with the cookie and origin given', () => {
    const text = upgradeRequest({
      host: '127.0.0.1:8072',
      path: '/websocket',
      origin: 'http://127.0.0.1:8072',
      cookie: 'session_id=abc',
      userAgent: undefined,
    }).toString();
    expect(text).toMatch(/^GET \/websocket HTTP\/1.1\r\n/);
    expect(text).toContain('\r\nCookie: session_id=abc\r\n');
    expect(text).toContain('\r\nSec-WebSocket-Version: 13\r\n');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });
});
