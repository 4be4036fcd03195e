/**
 * Counts the frames a client sends, from the raw bytes, so that Odoo's rate limit applies per frame
 * (fragments and control frames included) as Odoo applies it. It only walks frame headers and skips
 * payloads; decoding, masking rules, UTF-8 and size limits are left to the `ws` parser that reads
 * the same bytes.
 */

export class FrameScanner {
  private header = Buffer.alloc(14);
  private headerLength = 0;
  /** Payload bytes still to skip before the next header. */
  private remaining = 0;

  /** Feeds raw bytes; calls `onFrame` once per frame header completed. */
  push(chunk: Buffer, onFrame: (opcode: number) => boolean): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= skip;
        offset += skip;
        continue;
      }
      this.header[this.headerLength++] = chunk[offset++] as number;
      const needed = this.headerSize();
      if (needed === undefined || this.headerLength < needed) continue;
      const opcode = (this.header[0] as number) & 0x0f;
      this.remaining = this.payloadLength();
      this.headerLength = 0;
      if (!onFrame(opcode)) return;
    }
  }

  /** Total header size once enough bytes are known, undefined before. */
  private headerSize(): number | undefined {
    if (this.headerLength < 2) return undefined;
    const second = this.header[1] as number;
    const masked = (second & 0x80) !== 0;
    const len7 = second & 0x7f;
    const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    return 2 + extended + (masked ? 4 : 0);
  }

  private payloadLength(): number {
    const len7 = (this.header[1] as number) & 0x7f;
    if (len7 < 126) return len7;
    if (len7 === 126) return this.header.readUInt16BE(2);
    // Precision above 2^53 does not matter: the 1 MiB limit closes such a connection first.
    return Number(this.header.readBigUInt64BE(2));
  }
}

/** Odoo's rule: close when the last `burst` frames arrived within `burst * delay` seconds. */
export class FrameRateLimiter {
  private readonly times: Float64Array;
  private index = 0;
  private count = 0;

  constructor(
    private readonly burst: number,
    private readonly windowMs: number,
  ) {
    this.times = new Float64Array(Math.max(1, burst));
  }

  /** Records a frame; false when it breaks the limit. */
  hit(now: number): boolean {
    const oldest = this.times[this.index] as number;
    const full = this.count >= this.burst;
    this.times[this.index] = now;
    this.index = (this.index + 1) % this.times.length;
    if (!full) this.count++;
    return !(full && now - oldest < this.windowMs);
  }
}
