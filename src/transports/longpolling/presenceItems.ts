/**
 * 12.0 only: Odoo's poll reads again with `force_status` after waiting, which adds the im_status
 * items (`id: -1`) of `options.bus_presence_partner_ids`; so does the sidecar, asking the addon
 * again before it answers a poll with rows or `[]`.
 */

import type { Logger } from '../../observability/logger.js';
import { POLL_ROUTE } from '../../odoo/addonContract.js';
import type { OdooClient } from '../../odoo/client.js';
import { generationOf } from '../../odoo/generations.js';
import { type PollNotification, readPollAnswer } from '../../odoo/pollAnswer.js';
import { passedOn } from './catchUp.js';
import type { AcceptedPoll } from './pollCall.js';

/** Whether answering `poll` needs Odoo's im_status items first. */
export function wantsPresenceItems(poll: Pick<AcceptedPoll, 'version' | 'options'>): boolean {
  const partners = poll.options?.bus_presence_partner_ids;
  return (
    generationOf(poll.version).pollPresenceItems && Array.isArray(partners) && partners.length > 0
  );
}

/**
 * Odoo's second read for `poll`: its items (remembered as sent), none when it did not answer
 * readably.
 */
export async function presenceItems(
  deps: { odoo: OdooClient; clock: () => number; log: Logger },
  poll: AcceptedPoll,
): Promise<PollNotification[]> {
  const { bus_inactivity: _presence, ...options } = poll.options ?? {};
  const outcome = await deps.odoo.rpc(
    POLL_ROUTE,
    { ...poll.sent, options, force_status: true },
    poll.browser,
    undefined,
    poll.requestId,
  );
  // An answer cut short (`maxCallAnswerBytes`) gives no im_status items: the rows go alone.
  if (outcome.kind === 'result' && outcome.cut === undefined) {
    try {
      const answer = readPollAnswer(outcome.text, outcome.result);
      passedOn(poll, answer.notifications, deps.clock());
      return answer.notifications;
    } catch (error) {
      deps.log.debug({ err: error }, 'no im_status items: unreadable answer');
    }
  }
  return [];
}
