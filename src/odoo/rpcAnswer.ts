/**
 * What one call to Odoo came to: the HTTP answer read as Odoo's JSON-RPC envelope (a result, an
 * expired session, an error Odoo raised), or the failure that kept it from answering.
 */
import { type JsonNode, member, parseJsonInSlices, safeInteger } from '../json/rawJson.js';
import type { RpcOutcome } from './client.js';
import { sessionSetCookie } from './cookies.js';
import { CallAbandonedError, QueueFullError } from './limiter.js';

const SESSION_EXPIRED = 'odoo.http.SessionExpiredException';

/** An answer that cannot be Odoo's (too large for the info route, ...). */
export class BadResponse extends Error {}

/**
 * Reads an HTTP answer of a JSON-RPC route. `truncated`: only the first `maxAnswerBytes` were
 * read; what they hold whole is kept (`cut` of the result).
 */
export async function readRpcAnswer(answer: {
  status: number;
  text: string;
  truncated: boolean;
  setCookie: string | string[] | undefined;
}): Promise<RpcOutcome> {
  const { status, text, truncated, setCookie } = answer;
  const issued = sessionSetCookie(setCookie);
  const newSessionId = issued?.sessionId;
  const sessionCookie = issued?.header;
  const cookies = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  if (status === 404) return { kind: 'notFound' };
  if (status !== 200) return { kind: 'unavailable', reason: 'http', detail: `HTTP ${status}` };
  let root: JsonNode;
  let cut: ReadonlySet<JsonNode> | undefined;
  try {
    // In slices: a large answer (a catch-up) must not stall every other socket meanwhile.
    ({ root, cut } = await parseJsonInSlices(text, { prefix: truncated }));
  } catch {
    return { kind: 'unavailable', reason: 'badResponse', detail: 'answer is not JSON' };
  }
  const error = member(root, 'error');
  if (error) {
    const data = member(error, 'data');
    const nameNode = member(data, 'name');
    const messageNode = member(error, 'message');
    const code = safeInteger(member(error, 'code'), text);
    const name = nameNode?.kind === 'string' ? nameNode.value : undefined;
    if (name === SESSION_EXPIRED || code === 100) {
      return { kind: 'sessionExpired', newSessionId, text, setCookie: cookies, sessionCookie };
    }
    return {
      kind: 'rpcError',
      code,
      name,
      message: messageNode?.kind === 'string' ? messageNode.value : 'Odoo error',
      text,
      setCookie: cookies,
    };
  }
  if (root.kind !== 'object') {
    return {
      kind: 'unavailable',
      reason: 'badResponse',
      detail: 'answer is not a JSON-RPC envelope',
    };
  }
  const found = member(root, 'result');
  if (found === undefined && cut !== undefined) {
    return { kind: 'unavailable', reason: 'badResponse', detail: 'answer cut before its result' };
  }
  // Odoo 19 omits `result` when a route returns None (/websocket/on_closed).
  const result = found ?? { kind: 'literal', start: 0, end: 0, value: null };
  return { kind: 'result', text, result, cut, newSessionId, setCookie: cookies, sessionCookie };
}

/** The outcome of a call that got no answer to read. */
export function classifyFailure(error: unknown): RpcOutcome {
  if (error instanceof CallAbandonedError)
    return { kind: 'unavailable', reason: 'abandoned', detail: error.message };
  if (error instanceof QueueFullError)
    return { kind: 'unavailable', reason: 'queueFull', detail: error.message };
  if (error instanceof BadResponse)
    return { kind: 'unavailable', reason: 'badResponse', detail: error.message };
  const err = error as { name?: string; code?: string; message?: string };
  if (
    err.name === 'TimeoutError' ||
    err.name === 'AbortError' ||
    err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err.code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return { kind: 'unavailable', reason: 'timeout', detail: err.message ?? 'timeout' };
  }
  return {
    kind: 'unavailable',
    reason: 'connect',
    detail: err.code ?? err.message ?? String(error),
  };
}
