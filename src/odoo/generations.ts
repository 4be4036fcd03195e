/**
 * What differs between the Odoo majors the sidecar serves, in one table: the transports, the
 * forwarding and the readiness check look a fact up here instead of comparing version numbers, and
 * the fake Odoo of the tests reads the same table where it plays the same fact. README "Odoo
 * versions" and "Long polling" say the same in words; `test/unit/odoo/generations.test.ts` holds
 * the two together.
 *
 * Route sources (`@route` declarations):
 * - 12.0-14.0 `addons/bus/controllers/main.py`: `/longpolling/poll`, `/longpolling/send` (removed
 *   in 15.0), `/longpolling/im_status`;
 * - 15.0 same file: `/longpolling/poll`, `/longpolling/im_status` (`/longpolling/health` is served
 *   by the sidecar itself);
 * - 16.0 and 17.0 `addons/bus/controllers/websocket.py`: `/websocket/peek_notifications`,
 *   `/websocket/update_bus_presence`; later 17.0 builds and 18.0 add `/websocket/on_closed`
 *   (`/websocket/health` is served by the sidecar itself);
 * - 19.0 `addons/bus/controllers/websocket.py`: `/websocket/peek_notifications`,
 *   `/websocket/on_closed`; `addons/mail/controllers/websocket.py`:
 *   `/websocket/update_bus_presence`.
 * The web clients of 16.0-19.0 call none of these (their worker only opens `/websocket`); the
 * 12.0-15.0 clients call `/longpolling/poll` and, from `mail`, `/longpolling/im_status`.
 */

export type OdooMajor = 12 | 13 | 14 | 15 | 16 | 17 | 18 | 19;

export interface Generation {
  readonly major: OdooMajor;
  /** How the bus reaches browsers: HTTP long polling up to 15, a websocket from 16. */
  readonly transport: 'longpolling' | 'websocket';
  /**
   * Odoo's own routes under `/websocket/` and `/longpolling/`: the only paths forwarded to Odoo
   * (anything else there gets werkzeug's 404 without reaching it). 17 lists `/websocket/on_closed`
   * although early 17.0 builds lack it: their 404 is remembered and the route not called again.
   */
  readonly routes: readonly string[];
  /**
   * The presence parameters Odoo takes: a poll's `options.bus_inactivity` (12-15); the params of
   * `/websocket/update_bus_presence` (16-18 require `im_status_ids_by_model`, 19 takes
   * `inactivity_period` only and logs a warning for anything more).
   */
  readonly presenceParams: readonly string[];
  /**
   * One notification of a poll's answer: `{"id", "channel", "message"}` (12-14) or
   * `{"id", "message"}` (15); null where there is no long polling.
   */
  readonly pollItem: 'id-channel-message' | 'id-message' | null;
  /**
   * 12.0: a poll with `options.bus_presence_partner_ids` gets those partners' im_status items
   * (`id: -1`) whenever Odoo's poll reads again after waiting (`force_status`).
   */
  readonly pollPresenceItems: boolean;
  /**
   * `cors="*"` on the poll route (13-15): every answer carries `Access-Control-Allow-Origin: *` and
   * `Access-Control-Allow-Methods: POST`.
   */
  readonly pollCors: boolean;
  /**
   * The web client sends a 1-byte binary `0x00` after 60 s of silence (19). The socket ignores
   * such a frame whatever the generation (one not learned yet included): it is never bad input.
   */
  readonly clientProbe: boolean;
  /**
   * Odoo rotates sessions softly (19: every 3 h, a new id keeping the first
   * `SESSION_HASH_PREFIX_LENGTH` characters): a socket follows the id Odoo names in `Set-Cookie`,
   * and a rotation made by a call of the sidecar must reach the browser.
   */
  readonly rotatesSessions: boolean;
  /** JSON-RPC `code` of a server error: 200 up to 18, 0 in 19 (expired sessions are 100 in all). */
  readonly serverErrorCode: 0 | 200;
}

const POLL = '/longpolling/poll';
const IM_STATUS = '/longpolling/im_status';
const SEND = '/longpolling/send';
const PEEK = '/websocket/peek_notifications';
const PRESENCE = '/websocket/update_bus_presence';
const ON_CLOSED = '/websocket/on_closed';

/** 12-15: long polling; the websocket facts do not apply. */
const LONG_POLLING = {
  transport: 'longpolling',
  presenceParams: ['bus_inactivity'],
  pollItem: 'id-channel-message',
  pollPresenceItems: false,
  pollCors: true,
  clientProbe: false,
  rotatesSessions: false,
  serverErrorCode: 200,
} as const;

/** 16-19: websockets; the long-polling facts do not apply. */
const WEBSOCKET = {
  transport: 'websocket',
  presenceParams: ['inactivity_period', 'im_status_ids_by_model'],
  pollItem: null,
  pollPresenceItems: false,
  pollCors: false,
  clientProbe: false,
  rotatesSessions: false,
  serverErrorCode: 200,
} as const;

export const GENERATIONS: Readonly<Record<OdooMajor, Generation>> = {
  12: {
    ...LONG_POLLING,
    major: 12,
    routes: [POLL, IM_STATUS, SEND],
    pollPresenceItems: true,
    pollCors: false,
  },
  13: { ...LONG_POLLING, major: 13, routes: [POLL, IM_STATUS, SEND] },
  14: { ...LONG_POLLING, major: 14, routes: [POLL, IM_STATUS, SEND] },
  15: { ...LONG_POLLING, major: 15, routes: [POLL, IM_STATUS], pollItem: 'id-message' },
  16: { ...WEBSOCKET, major: 16, routes: [PEEK, PRESENCE] },
  17: { ...WEBSOCKET, major: 17, routes: [PEEK, PRESENCE, ON_CLOSED] },
  18: { ...WEBSOCKET, major: 18, routes: [PEEK, PRESENCE, ON_CLOSED] },
  19: {
    ...WEBSOCKET,
    major: 19,
    routes: [PEEK, PRESENCE, ON_CLOSED],
    presenceParams: ['inactivity_period'],
    clientProbe: true,
    rotatesSessions: true,
    serverErrorCode: 0,
  },
};

const OLDEST: OdooMajor = 12;
const NEWEST: OdooMajor = 19;

export function isOdooMajor(major: number): major is OdooMajor {
  return Object.hasOwn(GENERATIONS, major);
}

/**
 * The generation of an Odoo major; undefined while the major is unknown. A major outside 12-19
 * (an Odoo the addon does not support, or one newer than this build) is taken for the nearest
 * generation known: a newer Odoo is most like 19.
 */
export function generationOf(major: number): Generation;
export function generationOf(major: number | undefined): Generation | undefined;
export function generationOf(major: number | undefined): Generation | undefined {
  if (major === undefined) return undefined;
  if (isOdooMajor(major)) return GENERATIONS[major];
  return GENERATIONS[major < OLDEST ? OLDEST : NEWEST];
}

/**
 * The major of Odoo's `server_version_info` (`[17, 0, 0, 'final', 0, '']`), else of its
 * `server_version` (`17.0`, `saas~17.2`, `17.0-20240709`), as Odoo's version routes answer both.
 */
export function majorOf(serverVersionInfo: unknown, serverVersion: unknown): number | undefined {
  const first = Array.isArray(serverVersionInfo) ? serverVersionInfo[0] : undefined;
  if (typeof first === 'number') return first;
  if (typeof serverVersion !== 'string') return undefined;
  const match = /^(?:saas~)?(\d+)/.exec(serverVersion);
  return match ? Number(match[1]) : undefined;
}
