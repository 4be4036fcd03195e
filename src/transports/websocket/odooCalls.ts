/**
 * The calls a socket makes to Odoo on behalf of its browser: with its cookies and request id,
 * abandoned when the socket goes while they wait for a slot; the session Odoo hands back is
 * adopted; `on_closed` when the connection is gone.
 */
import type { BrowserContext, RpcOutcome } from '../../odoo/client.js';
import { isSoftRotation, withSessionId } from '../../odoo/cookies.js';
import type { OdooSocket } from './odooSocket.js';
import type { SocketContext } from './socketContext.js';

const ON_CLOSED = '/websocket/on_closed';

/**
 * Aborted when the socket goes: its calls still waiting for a slot never reach Odoo. Made only
 * while calls are out (an AbortController and its signal cost more than half a kilobyte, on every
 * idle socket otherwise).
 */
export interface CallsOut {
  readonly gone: AbortController;
  count: number;
}

/** What the calls read of their socket. */
export interface CallingSocket {
  readonly context: SocketContext;
  readonly browser: BrowserContext;
  readonly requestId: string;
  readonly isClosing: boolean;
  calls: CallsOut | undefined;
}

/** A call to Odoo on behalf of the socket's browser, abandoned if the socket goes while it waits. */
export async function callOdoo(
  socket: CallingSocket,
  route: string,
  params: Record<string, unknown>,
): Promise<RpcOutcome> {
  const { odoo } = socket.context;
  if (socket.isClosing) return odoo.rpc(route, params, socket.browser, AbortSignal.abort());
  const calls = socket.calls ?? { gone: new AbortController(), count: 0 };
  socket.calls = calls;
  calls.count++;
  try {
    return await odoo.rpc(route, params, socket.browser, calls.gone.signal, socket.requestId);
  } finally {
    calls.count--;
    if (calls.count === 0 && socket.calls === calls) socket.calls = undefined;
  }
}

export function abandonCalls(socket: CallingSocket): void {
  const calls = socket.calls;
  socket.calls = undefined;
  calls?.gone.abort();
}

/** Odoo created a session (first visit, bogus cookie) or rotated it: later calls must use it. */
export function adoptSession(socket: OdooSocket, outcome: RpcOutcome): void {
  if (outcome.kind !== 'result' && outcome.kind !== 'sessionExpired') return;
  const { newSessionId, sessionCookie } = outcome;
  if (newSessionId === undefined || newSessionId === socket.sessionId) return;
  const previous = socket.sessionId;
  socket.browser.cookie = withSessionId(socket.browser.cookie, newSessionId);
  socket.sessionId = newSessionId;
  socket.context.onSessionChange(socket, newSessionId);
  if (previous !== undefined && sessionCookie !== undefined) {
    if (isSoftRotation(previous, newSessionId)) {
      socket.context.onSoftRotation(socket, previous, newSessionId, sessionCookie);
    }
  }
}

/** `/websocket/on_closed`: Odoo (17+) marks the user offline. */
export async function notifyClosed(socket: OdooSocket): Promise<void> {
  const { context } = socket;
  const outcome = await context.odoo.rpc(
    ON_CLOSED,
    {},
    socket.browser,
    undefined,
    socket.requestId,
  );
  if (outcome.kind === 'notFound') {
    context.routes.onClosedMissing = true;
    socket.log.info(
      'Odoo has no /websocket/on_closed route (before 17.0 late builds); not called again',
    );
  } else if (outcome.kind === 'unavailable') {
    socket.log.debug({ reason: outcome.reason }, 'on_closed not delivered to Odoo');
  }
}
