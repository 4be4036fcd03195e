/**
 * The client's `update_presence` messages, forwarded to Odoo's `/websocket/update_bus_presence`:
 * after the first subscribe was answered (Odoo refuses presence before it), one call at a time,
 * and only the latest state (one arriving while a call is out replaces any waiting one). A socket
 * holds a forwarder only while one runs.
 */

import { generationOf } from '../../odoo/generations.js';
import { CloseCode } from '../closeCodes.js';
import type { PresenceData } from './clientMessage.js';
import { adoptSession, callOdoo } from './odooCalls.js';
import type { OdooSocket } from './odooSocket.js';

const PRESENCE = '/websocket/update_bus_presence';

export class PresenceForwarder {
  private pending: PresenceData | undefined;

  constructor(
    private readonly socket: OdooSocket,
    first: PresenceData,
  ) {
    this.pending = first;
  }

  /** Only the latest state matters: a presence waiting behind a running one is replaced. */
  offer(data: PresenceData): void {
    this.pending = data;
  }

  /** Forwards until nothing waits; `done` is called at the end, whatever happened. */
  async run(done: () => void): Promise<void> {
    const { socket } = this;
    try {
      await socket.firstSubscribeAnswered();
      while (
        this.pending &&
        socket.phase === 'subscribed' &&
        !socket.context.routes.presenceMissing
      ) {
        const data = this.pending;
        this.pending = undefined;
        await this.forward(data);
      }
    } finally {
      done();
    }
  }

  private async forward(data: PresenceData): Promise<void> {
    const { socket } = this;
    const { context } = socket;
    const outcome = await callOdoo(socket, PRESENCE, presenceParams(data, context.odooMajor()));
    if (socket.isClosing) return;
    adoptSession(socket, outcome);
    switch (outcome.kind) {
      case 'sessionExpired':
        socket.close(CloseCode.SESSION_EXPIRED, '');
        return;
      case 'notFound':
        context.routes.presenceMissing = true;
        socket.log.warn(
          { route: PRESENCE },
          'Odoo has no presence route; presence updates are not forwarded',
        );
        return;
      case 'unavailable':
        socket.logLimited('ws-presence-undelivered', (log, note) =>
          log.warn(
            { reason: outcome.reason, detail: outcome.detail, ...note },
            'presence update not delivered to Odoo',
          ),
        );
        return;
      case 'rpcError':
        socket.logLimited('ws-presence-refused', (log, note) =>
          log.info(
            { code: outcome.code, error: outcome.name, ...note },
            'Odoo refused a presence update',
          ),
        );
        return;
      default:
        return;
    }
  }
}

/**
 * The parameters of `/websocket/update_bus_presence` for a client's `update_presence` data:
 * - 16-18 require `im_status_ids_by_model` (late 17 / 18 clients send `{}`, 17.0-20240709 ids);
 * - 19 takes `inactivity_period` only: its client sends nothing else, and its route logs a
 *   warning for anything more (`update_presence_with_im_status_ids` of the 19 recordings);
 * - generation unknown: the client's own message says it (a 19 client leaves the key out, and the
 *   page comes from the Odoo being served).
 */
export function presenceParams(
  data: PresenceData,
  major: number | undefined,
): Record<string, unknown> {
  const params: Record<string, unknown> = { inactivity_period: data.inactivity_period };
  const legacy =
    major === undefined
      ? 'im_status_ids_by_model' in data
      : generationOf(major).presenceParams.includes('im_status_ids_by_model');
  if (legacy) params.im_status_ids_by_model = data.im_status_ids_by_model ?? {};
  return params;
}
