/**
 * A `/longpolling/poll` request read as Odoo's `JsonRequest` reads it. What Odoo would not treat as
 * a JSON-RPC call (another content type, a body that is not a JSON object, `params` not a dict) is
 * not a poll: Odoo gives it its own, immediate answer.
 */
import type { FastifyRequest } from 'fastify';
import { MAX_MESSAGE_DEPTH, nestsDeeperThan } from '../../json/depth.js';
import { idJson } from './envelope.js';

const JSON_TYPES = new Set(['application/json', 'application/json-rpc']);

export interface PollRequest {
  /** The call's `id` as Python re-emits it, for the answer's envelope. */
  readonly id: string;
  readonly params: Record<string, unknown>;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON-RPC call in a request, or undefined when Odoo would not treat it as one. */
export function readCall(request: FastifyRequest): PollRequest | undefined {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!JSON_TYPES.has(type)) return undefined;
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const text = body.toString('utf8');
  // Nothing this deep is a poll; Odoo gives such a body its own answer.
  if (nestsDeeperThan(text, MAX_MESSAGE_DEPTH)) return undefined;
  let call: unknown;
  try {
    call = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(call)) return undefined;
  const params = call.params ?? {};
  if (!isObject(params)) return undefined;
  return { id: idJson(call.id), params };
}

/**
 * The params passed on to the addon: the poll's own, less `bus_inactivity` when the presence rule
 * leaves the presence update out.
 */
export function sentParams(
  params: Record<string, unknown>,
  options: Record<string, unknown> | undefined,
  withPresence: boolean,
): Record<string, unknown> {
  const sent: Record<string, unknown> = {};
  for (const name of ['channels', 'last', 'options'] as const) {
    if (name in params) sent[name] = params[name];
  }
  if (!withPresence && options !== undefined) {
    const { bus_inactivity: _left, ...rest } = options;
    sent.options = rest;
  }
  return sent;
}

/** `last` when it is a number Odoo compares ids with (`id > last`), else undefined. */
export function numericLast(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return undefined;
}
