/** The JSON-RPC error a poll gets when Odoo did not answer it with a result. */
import { member, parseJson } from '../../json/rawJson.js';
import type { Logger } from '../../observability/logger.js';
import { POLL_ROUTE } from '../../odoo/addonContract.js';
import type { RpcOutcome } from '../../odoo/client.js';
import { unavailableError } from './envelope.js';

/**
 * The error to answer for an outcome that is not a result, or undefined for a result.
 * `noAddon` remembers that the missing addon was logged: once per process is enough.
 */
export function rejection(
  outcome: RpcOutcome,
  requestId: string,
  log: Logger,
  noAddon: { logged: boolean },
): string | undefined {
  switch (outcome.kind) {
    case 'result':
      return undefined;
    case 'rpcError':
    case 'sessionExpired': {
      // Odoo refused the poll (a non-string channel, a missing `last`, ...): its own error.
      try {
        const error = member(parseJson(outcome.text), 'error');
        if (error !== undefined) return outcome.text.slice(error.start, error.end);
      } catch {}
      return unavailableError('Odoo refused the poll.');
    }
    case 'notFound':
      if (!noAddon.logged) {
        noAddon.logged = true;
        log.error(
          { route: POLL_ROUTE },
          'Odoo has no /bus_sidecar/poll route: load the bus_sidecar addon server-wide (12.0-15.0), or the request names no database',
        );
      }
      return unavailableError('The bus_sidecar addon does not answer.');
    case 'unavailable':
      log.warn(
        { reason: outcome.reason, detail: outcome.detail, requestId },
        'Odoo could not answer a poll',
      );
      return unavailableError(
        outcome.reason === 'queueFull'
          ? 'Too many polls wait for Odoo; try again later.'
          : 'Odoo is unavailable; try again later.',
      );
  }
}
