/**
 * Counts the frames a client sends, from the raw bytes, so that Odoo's rate limit applies per frame
 * (fragments and control frames included) as Odoo applies it. It only walks frame headers and skips
 * payloads; decoding, masking rules, UTF-8 and size limits are left to the `ws` parser that reads
 * the same bytes.
 *
 * Both classes exist per socket while its client sends, so their state is a few small integers: no
 * buffer of header bytes (the length is assembled as the bytes arrive), and the limiter's timestamps
 * are allocated at the first frame. Once both are `idle` the socket drops them: a fresh pair counts
 * the next frames exactly as the old pair would have.
 */

export class FrameScanner {
  /** Header bytes of the current frame seen so far (0 between frames). */
  private seen = 0;
  private opcode = 0;
  /** Second header byte: mask bit and 7-bit length. */
  private second = 0;
  /** Payload length, assembled from the extended length bytes. */
  private length = 0;
  /** Payload bytes still to skip before the next header. */
  private remaining = 0;

  /** Between two frames: nothing of a frame seen and nothing left to skip. */
  get idle(): boolean {
    return this.seen === 0 && this.remaining === 0;
  }

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
      const byte = chunk[offset++] as number;
      const index = this.seen++;
      if (index === 0) {
        this.opcode = byte & 0x0f;
        continue;
      }
      if (index === 1) {
        this.second = byte;
        const len7 = byte & 0x7f;
        this.length = len7 < 126 ? len7 : 0;
      } else if (index < 2 + this.extendedBytes()) {
        // Precision above 2^53 does not matter: the 1 MiB limit closes such a connection first.
        this.length = this.length * 256 + byte;
      }
      if (this.seen < 2 + this.extendedBytes() + ((this.second & 0x80) !== 0 ? 4 : 0)) continue;
      this.remaining = this.length;
      this.seen = 0;
      if (!onFrame(this.opcode)) return;
    }
  }

  private extendedBytes(): number {
    const len7 = this.second & 0x7f;
    return len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  }
}

/** Odoo's rule: close when the last `burst` frames arrived within `burst * delay` seconds. */
export class FrameRateLimiter {
  /** Arrival times of the last `burst` frames, a ring; allocated at the first frame. */
  private times: number[] | undefined;
  private index = 0;
  private count = 0;

  constructor(
    private readonly burst: number,
    private readonly windowMs: number,
  ) {}

  /**
   * True when no frame counted so far can take part in a close any more: the newest arrived at
   * least a window before `now`, so every later comparison with one of them passes, as it does
   * for a limiter that saw no frame at all.
   */
  idleAt(now: number): boolean {
    const times = this.times;
    if (times === undefined) return true;
    const newest = times[(this.index + times.length - 1) % times.length] as number;
    return now - newest >= this.windowMs;
  }

  /** Records a frame; false when it breaks the limit. */
  hit(now: number): boolean {
    const size = Math.max(1, this.burst);
    // Exactly `size` slots (an array grown by push() would reserve 17).
    this.times ??= new Array<number>(size).fill(0);
    const full = this.count >= size;
    const oldest = this.times[this.index] as number;
    this.times[this.index] = now;
    this.index = (this.index + 1) % size;
    if (!full) this.count++;
    return !(full && this.burst > 0 && now - oldest < this.windowMs);
  }
}
