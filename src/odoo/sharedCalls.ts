/**
 * One call to Odoo for identical calls in flight at the same moment: the tabs of one browser
 * subscribe together (a page load of several tabs, every socket back after a restart of the
 * sidecar), each with the same session cookie, channels and `last`, and Odoo would compute the
 * same answer for each. The first caller's call is made; callers arriving while it is out get
 * its outcome. Odoo stays the only judge: every caller is answered by Odoo for its own session
 * and its own parameters, only not once per tab. A call that is over is never reused.
 *
 * The call is abandoned (its signal aborted) only when every caller has gone; a caller that goes
 * alone is answered `abandoned` at once, as an unshared call would be.
 */
import type { BrowserContext } from './client.js';

/** Routes whose answer depends only on the session and the parameters. */
const SHARED_ROUTES: ReadonlySet<string> = new Set(['/websocket/peek_notifications']);

/**
 * What Odoo's answer depends on: the route, the session (the whole cookie), the site (Host and
 * the proxy's forwarded host and scheme: dbfilter, URLs) and the parameters; undefined for a call
 * never shared (another route, no cookie, parameters that do not serialize).
 */
export function sharedCallKey(
  route: string,
  params: Record<string, unknown>,
  browser: BrowserContext,
): string | undefined {
  if (!SHARED_ROUTES.has(route) || browser.cookie === '') return undefined;
  let text: string;
  try {
    text = JSON.stringify(params);
  } catch {
    return undefined;
  }
  return [
    route,
    browser.cookie,
    browser.host,
    browser.forwardedHost,
    browser.forwardedProto,
    text,
  ].join('\n');
}

interface Entry<T> {
  readonly outcome: Promise<T>;
  readonly controller: AbortController;
  callers: number;
}

export class SharedCalls<T> {
  private readonly inFlight = new Map<string, Entry<T>>();

  /** Callers answered by a call another caller made (for the metrics). */
  joined = 0;

  /**
   * The outcome of `start` for `key`, made once for every caller while it is out. `abandoned` is
   * what a caller whose `signal` aborts gets.
   */
  run(
    key: string,
    signal: AbortSignal | undefined,
    start: (signal: AbortSignal) => Promise<T>,
    abandoned: () => T,
  ): Promise<T> {
    if (signal?.aborted) return Promise.resolve(abandoned());
    let entry = this.inFlight.get(key);
    if (entry === undefined) {
      const controller = new AbortController();
      const made: Entry<T> = {
        controller,
        callers: 0,
        outcome: start(controller.signal).finally(() => {
          if (this.inFlight.get(key) === made) this.inFlight.delete(key);
        }),
      };
      entry = made;
      this.inFlight.set(key, made);
    } else {
      this.joined++;
    }
    const shared = entry;
    shared.callers++;
    if (signal === undefined) return shared.outcome;
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        shared.callers--;
        if (shared.callers === 0) {
          if (this.inFlight.get(key) === shared) this.inFlight.delete(key);
          shared.controller.abort();
        }
        resolve(abandoned());
      };
      signal.addEventListener('abort', leave, { once: true });
      shared.outcome.then(
        (outcome) => {
          signal.removeEventListener('abort', leave);
          resolve(outcome);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', leave);
          reject(error);
        },
      );
    });
  }

  /** Calls out now (for tests and the metrics). */
  get size(): number {
    return this.inFlight.size;
  }
}
