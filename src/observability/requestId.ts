/**
 * Request ids: one per websocket and one per HTTP request (a long poll), sent to Odoo as
 * `X-Request-Id` on every call made for it and written on the sidecar's log lines about it, so
 * that an admin can put the two logs side by side. An id is this process's tag (random at start,
 * so workers and restarts never repeat one another's ids) and a counter: nothing is stored per
 * socket, the id is spelled from the socket's number when needed.
 */
import { randomBytes } from 'node:crypto';

const PROCESS_TAG = randomBytes(4).toString('hex');

/** The header Odoo receives (werkzeug reads it as `HTTP_X_REQUEST_ID`). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** `<process tag>-ws<n>` for websocket number `n`. */
export function socketRequestId(socketNumber: number): string {
  return `${PROCESS_TAG}-ws${socketNumber.toString(36)}`;
}

let httpRequests = 0;

/** `<process tag>-http<n>`: fastify's `genReqId` for every HTTP request on the public port. */
export function nextHttpRequestId(): string {
  return `${PROCESS_TAG}-http${(++httpRequests).toString(36)}`;
}
