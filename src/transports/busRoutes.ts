/**
 * The routes Odoo itself serves under `/websocket/` and `/longpolling/`, per major version. The
 * standard proxy configuration sends both prefixes to the bus port, so these must keep working
 * through the sidecar; they are the only paths it forwards. Anything else under the prefixes is
 * answered werkzeug's 404 (what Odoo answers for a route it does not have) without reaching Odoo:
 * a path that a proxy routes here as a bus path never becomes another route of Odoo's.
 *
 * Sources (`@route` declarations):
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

const LONGPOLLING = ['/longpolling/poll', '/longpolling/im_status'];
const WEBSOCKET = ['/websocket/peek_notifications', '/websocket/update_bus_presence'];
const ON_CLOSED = '/websocket/on_closed';

export const ODOO_BUS_ROUTES: Readonly<Record<number, readonly string[]>> = {
  12: [...LONGPOLLING, '/longpolling/send'],
  13: [...LONGPOLLING, '/longpolling/send'],
  14: [...LONGPOLLING, '/longpolling/send'],
  15: LONGPOLLING,
  16: WEBSOCKET,
  17: [...WEBSOCKET, ON_CLOSED],
  18: [...WEBSOCKET, ON_CLOSED],
  19: [...WEBSOCKET, ON_CLOSED],
};

const byMajor = new Map<number, ReadonlySet<string>>(
  Object.entries(ODOO_BUS_ROUTES).map(([major, routes]) => [Number(major), new Set(routes)]),
);
const anyVersion: ReadonlySet<string> = new Set(Object.values(ODOO_BUS_ROUTES).flat());

/** The routes forwarded to an Odoo of this major version (every version's while unknown). */
export function busRoutesOf(major: number | undefined): ReadonlySet<string> {
  return (major === undefined ? undefined : byMajor.get(major)) ?? anyVersion;
}
