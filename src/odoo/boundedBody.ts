/**
 * Reads an answer's body up to a size bound. Past the bound the rest is left unread and the
 * connection dropped: one answer can never take more memory than the bound, whatever Odoo (or
 * whoever answers on its port) sends, with or without a `Content-Length`.
 */
import type { Dispatcher } from 'undici';

export interface BoundedBody {
  /** The body's text, or its first `maxBytes` bytes (a character cut at the bound is replaced). */
  text: string;
  /** True when the body was longer than `maxBytes`. */
  truncated: boolean;
}

export async function readBoundedBody(
  body: Dispatcher.ResponseData['body'],
  maxBytes: number,
): Promise<BoundedBody> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (bytes + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - bytes));
      bytes = maxBytes;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    bytes += chunk.length;
  }
  // Leaving the loop early destroys the stream, which drops the connection to Odoo.
  if (truncated) body.destroy();
  return { text: Buffer.concat(chunks, bytes).toString('utf8'), truncated };
}
