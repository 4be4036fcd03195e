import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameRateLimiter, FrameScanner } from '../../../src/transports/websocket/frameScanner.js';

function frame(opcode: number, payloadLength: number, masked = true, fin = true): Buffer {
  const header: number[] = [(fin ? 0x80 : 0) | opcode];
  const mask = masked ? 0x80 : 0;
  if (payloadLength < 126) header.push(mask | payloadLength);
  else if (payloadLength < 65536) header.push(mask | 126, payloadLength >> 8, payloadLength & 255);
  else {
    header.push(mask | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(payloadLength));
    header.push(...big);
  }
  if (masked) header.push(1, 2, 3, 4);
  return Buffer.concat([Buffer.from(header), Buffer.alloc(payloadLength, 0x61)]);
}

describe('FrameScanner', () => {
  it('counts frames of every length form, whatever the chunking', () => {
    const frames = [
      frame(1, 5),
      frame(9, 0),
      frame(2, 300),
      frame(0, 70_000, true, false),
      frame(8, 2, false),
    ];
    const stream = Buffer.concat(frames);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4096 }), { maxLength: 200 }), (cuts) => {
        const scanner = new FrameScanner();
        const opcodes: number[] = [];
        let offset = 0;
        for (const cut of cuts) {
          if (offset >= stream.length) break;
          scanner.push(stream.subarray(offset, offset + cut), (op) => opcodes.push(op) > 0);
          offset += cut;
        }
        if (offset < stream.length)
          scanner.push(stream.subarray(offset), (op) => opcodes.push(op) > 0);
        expect(opcodes).toEqual([1, 9, 2, 0, 8]);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 50 }), (chunks) => {
        const scanner = new FrameScanner();
        for (const chunk of chunks) scanner.push(Buffer.from(chunk), () => true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('FrameRateLimiter (Odoo: 10 frames per 2 s)', () => {
  it('allows 10 frames in a burst and refuses the 11th within 2 s', () => {
    const limiter = new FrameRateLimiter(10, 2000);
    for (let i = 0; i < 10; i++) expect(limiter.hit(1000 + i)).toBe(true);
    expect(limiter.hit(2900)).toBe(false);
  });

  it('allows an 11th frame 2.2 s after the first', () => {
    const limiter = new FrameRateLimiter(10, 2000);
    for (let i = 0; i < 10; i++) expect(limiter.hit(i * 10)).toBe(true);
    expect(limiter.hit(2200)).toBe(true);
  });
});

describe('dropping idle frame counters (the socket does so to save memory)', () => {
  it('a limiter replaced once idle answers every later frame as the kept one does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 80 }),
        (burst, gaps) => {
          const windowMs = burst * 20;
          const kept = new FrameRateLimiter(burst, windowMs);
          let dropped = new FrameRateLimiter(burst, windowMs);
          let now = 1000;
          for (const gap of gaps) {
            now += gap;
            if (dropped.idleAt(now)) dropped = new FrameRateLimiter(burst, windowMs);
            expect(dropped.hit(now)).toBe(kept.hit(now));
          }
        },
      ),
    );
  });

  it('a scanner is idle only between frames', () => {
    const scanner = new FrameScanner();
    expect(scanner.idle).toBe(true);
    const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 9, 9, 9, 9, 9]);
    scanner.push(frame.subarray(0, 1), () => true);
    expect(scanner.idle).toBe(false);
    scanner.push(frame.subarray(1, 8), () => true);
    expect(scanner.idle).toBe(false);
    scanner.push(frame.subarray(8), () => true);
    expect(scanner.idle).toBe(true);
  });
});
