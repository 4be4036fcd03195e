/**
 * Writing a poll's answer on its HTTP reply: the headers Odoo's `Response` adds, the session
 * cookie Odoo set, the JSON-RPC envelope. Nothing is written to a browser already gone.
 */

import type { FastifyReply } from 'fastify';
import { generationOf } from '../../odoo/generations.js';
import { errorEnvelope, resultEnvelope } from './envelope.js';

/** The open request of a poll as the held poll sees it (a fake in the unit tests). */
export interface PollExchange {
  /** Writes the JSON-RPC result; nothing when the browser is gone already. */
  write(result: Buffer | string): void;
  /** `listener` runs when the connection closes (after the answer, or the browser left first). */
  onClose(listener: () => void): void;
}

export class ReplyExchange implements PollExchange {
  constructor(
    private readonly reply: FastifyReply,
    private readonly id: string,
    private readonly version: number,
    private readonly setCookie: string[],
  ) {}

  write(result: Buffer | string): void {
    const reply = this.reply;
    if (reply.raw.destroyed) return;
    headers(reply, this.version, this.setCookie);
    reply.send(resultEnvelope(this.id, result));
  }

  onClose(listener: () => void): void {
    this.reply.raw.on('close', listener);
  }
}

export function sendError(
  reply: FastifyReply,
  id: string,
  error: string,
  version: number | undefined,
  setCookie: string[] = [],
): FastifyReply {
  if (reply.raw.destroyed) return reply;
  headers(reply, version, setCookie);
  return reply.send(errorEnvelope(id, error));
}

function headers(reply: FastifyReply, version: number | undefined, setCookie: string[]): void {
  reply.code(200).header('content-type', 'application/json');
  // `cors="*"` on the poll route (Odoo's Response adds both to every answer); a version not
  // known yet is taken for one that has it.
  if (generationOf(version)?.pollCors ?? true) {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-allow-methods', 'POST');
  }
  if (setCookie.length > 0) reply.header('set-cookie', setCookie);
}
