/**
 * The fake's Odoo 12.0-15.0 side: the `bus_sidecar` addon's `/bus_sidecar/poll`, `/longpolling/
 * im_status`, and Odoo's own `/longpolling/poll` for the calls the sidecar hands on. There are no
 * recordings of these versions; each shape comes from the Odoo source named here, and the 15.0 ones
 * were also compared with a running Odoo 15.0 with the addon (see the README's long-polling
 * section):
 *
 * - the JSON-RPC envelope: `odoo/http.py` `JsonRequest._json_response` (12.0-15.0):
 *   `json.dumps({"jsonrpc", "id", "result"|"error"})` with Python's default separators and
 *   `ensure_ascii`; headers `Content-Type: application/json`, `Content-Length`, then a
 *   `Set-Cookie: session_id=...; Expires=...; Max-Age=7776000; HttpOnly; Path=/` on every answer
 *   (`Root.get_response`, 90 days);
 * - errors: `JsonRequest._handle_exception` and `serialize_exception`: code 200 "Odoo Server Error",
 *   `data` = name, debug, message, arguments, (12.0/13.0: `exception_type: "internal_error"`),
 *   context;
 * - the channel list: `addons/bus/controllers/main.py` `BusController._poll` (15.0 appends
 *   `'broadcast'`), `addons/mail/controllers/bus.py` `MailChatController._poll` (12.0-14.0: every
 *   `mail.channel` the partner is in, then `(db, 'res.partner', pid)`, `(db, 'ir.needaction', pid)`;
 *   15.0: the partner, then its channels), and 15.0's `channel_with_db` in `ImDispatch.poll`;
 * - the catch-up: `bus.bus.poll` (12.0-14.0: `{"id", "channel", "message"}`) and `bus.bus._poll`
 *   (15.0: `{"id", "message"}`); 12.0 appends `{"id": -1, "channel": [db, "bus.presence"],
 *   "message": {"id", "im_status"}}` for `options.bus_presence_partner_ids` when there are rows or
 *   `force_status`;
 * - `poll(channels, last, options=None)`: a channel that is not a string raises
 *   `Exception("bus.Bus only string channels are allowed.")`, a missing `last` Python's TypeError;
 * - `/longpolling/poll` with another content type: werkzeug's 400 "Session expired (invalid CSRF
 *   token)"; with a body that is not JSON: 400 "Invalid JSON data: ..." (observed on 15.0).
 */
import { pythonDumps } from '../../../src/json/pythonJson.js';
import { generationOf } from '../../../src/odoo/generations.js';
import { bindParams, PythonException, pythonList, pythonRepr } from './fakeOdooPython.js';
import { type FakeResponse, notFound } from './fakeOdooResponses.js';
import type { FakeRequest, RouteContext } from './fakeOdooRoutes.js';
import type { FakeSession } from './fakeOdooSessions.js';

export const ONLY_STRINGS = 'bus.Bus only string channels are allowed.';
const SERVER = 'Werkzeug/0.16.1 Python/3.8.10';

/** `session_id` cookie of 12.0-15.0: 90 days. */
function sessionCookie(sid: string, now = Date.now()): string {
  const expires = new Date(now + 90 * 86_400_000).toUTCString();
  return `session_id=${sid}; Expires=${expires}; Max-Age=7776000; HttpOnly; Path=/`;
}

function response(
  status: number,
  reason: string,
  body: string,
  contentType: string,
  extra: Array<[string, string]> = [],
): FakeResponse {
  return {
    status,
    reason,
    headers: [
      ['Server', SERVER],
      ['Date', new Date().toUTCString()],
      ['Content-Type', contentType],
      ['Content-Length', String(Buffer.byteLength(body, 'utf8'))],
      ...extra,
      ['Connection', 'close'],
    ],
    body,
  };
}

function dumps(value: unknown): string {
  return pythonDumps(value, { compact: false });
}

function envelope(id: unknown, key: 'result' | 'error', value: string): string {
  return `{"jsonrpc": "2.0", "id": ${dumps(id ?? null)}, "${key}": ${value}}`;
}

function errorJson(major: number, error: PythonException): string {
  const short = error.pythonClass.replace(/^builtins\./, '');
  const data: Record<string, unknown> = {
    name: error.pythonClass,
    debug: `Traceback (most recent call last):\n  File "fake_odoo.py", line 1, in poll\n${short}: ${error.message}\n`,
    message: error.message,
    arguments: [error.message],
  };
  if (major <= 13) data.exception_type = 'internal_error';
  data.context = {};
  return dumps({ code: 200, message: 'Odoo Server Error', data });
}

function mimetype(request: FakeRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

type Handler = (
  ctx: RouteContext,
  params: Record<string, unknown>,
  session: FakeSession,
) => Promise<string>;

/** A `type='json'` route of 12.0-15.0 (cookies set on every answer; CORS when `cors`). */
async function serveJson(
  ctx: RouteContext,
  request: FakeRequest,
  handler: Handler,
  cors = false,
): Promise<FakeResponse> {
  const major = ctx.profile.serverVersionInfo[0] as number;
  if (!['application/json', 'application/json-rpc'].includes(mimetype(request))) {
    const page =
      '<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n<p>Session expired (invalid CSRF token)</p>\n';
    return response(400, 'BAD REQUEST', page, 'text/html; charset=utf-8');
  }
  let call: { id?: unknown; params?: unknown };
  try {
    call = JSON.parse(request.rawBody) as typeof call;
  } catch {
    const text = `Invalid JSON data: ${pythonRepr(request.rawBody)}`.replaceAll("'", '&#39;');
    const page = `<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n<p>${text}</p>\n`;
    return response(400, 'BAD REQUEST', page, 'text/html; charset=utf-8');
  }
  const { session, stored } = ctx.sessions.resolve(request.headers.cookie);
  ctx.sessions.save(session, stored);
  const headers: Array<[string, string]> = [];
  if (cors && generationOf(major).pollCors) {
    headers.push(['Access-Control-Allow-Origin', '*'], ['Access-Control-Allow-Methods', 'POST']);
  }
  headers.push(['Set-Cookie', sessionCookie(session.sid)]);
  const params = (call.params ?? {}) as Record<string, unknown>;
  try {
    const result = await handler(ctx, params, session);
    return response(200, 'OK', envelope(call.id, 'result', result), 'application/json', headers);
  } catch (error) {
    if (!(error instanceof PythonException)) throw error;
    return response(
      200,
      'OK',
      envelope(call.id, 'error', errorJson(major, error)),
      'application/json',
      headers,
    );
  }
}

/** `BusController._poll` of bus + mail for this version, then (15.0) `channel_with_db`. */
export function longpollingChannels(
  major: number,
  db: string,
  session: FakeSession,
  clientChannels: readonly string[],
): unknown[] {
  const channels: unknown[] = [...clientChannels];
  const partner = session.uid !== null ? session.partnerId : null;
  if (major <= 14) {
    if (partner !== null) {
      for (const id of session.memberChannels) channels.push([db, 'mail.channel', id]);
      channels.push([db, 'res.partner', partner], [db, 'ir.needaction', partner]);
    }
    return channels;
  }
  if (partner !== null) {
    channels.push([db, 'res.partner', partner]);
    for (const id of session.memberChannels) channels.push([db, 'mail.channel', id]);
  }
  channels.push('broadcast');
  return channels.map((channel) => (typeof channel === 'string' ? [db, channel] : channel));
}

const SINCE_WINDOW_SQL = `
  SELECT id, channel, message FROM bus_bus
  WHERE create_date > date_trunc('second', (now() at time zone 'UTC') - interval '50 seconds')
    AND channel = ANY($1::varchar[])
  ORDER BY id`;
const AFTER_ID_SQL = `
  SELECT id, channel, message FROM bus_bus
  WHERE id > $2 AND channel = ANY($1::varchar[])
  ORDER BY id`;

/** `bus.bus.poll` (12.0-14.0) or `_poll` (15.0) as Python JSON items. */
async function catchUp(
  ctx: RouteContext,
  major: number,
  channels: readonly unknown[],
  last: number,
  options: Record<string, unknown>,
  forceStatus: boolean,
): Promise<string[]> {
  const keys = channels.map((channel) => pythonDumps(channel));
  const { rows } =
    last === 0
      ? await ctx.db.query<{ id: number; channel: string; message: string }>(SINCE_WINDOW_SQL, [
          keys,
        ])
      : await ctx.db.query<{ id: number; channel: string; message: string }>(AFTER_ID_SQL, [
          keys,
          last,
        ]);
  const items = rows.map((row) => {
    const message = dumps(JSON.parse(row.message));
    return generationOf(major).pollItem === 'id-channel-message'
      ? `{"id": ${row.id}, "channel": ${dumps(JSON.parse(row.channel))}, "message": ${message}}`
      : `{"id": ${row.id}, "message": ${message}}`;
  });
  const partners = options.bus_presence_partner_ids;
  if (
    generationOf(major).pollPresenceItems &&
    Array.isArray(partners) &&
    (items.length > 0 || forceStatus)
  ) {
    for (const id of partners) {
      const status = ctx.presence.get(Number(id)) ?? 'offline';
      items.push(
        dumps({
          id: -1,
          channel: [ctx.database, 'bus.presence'],
          message: { id, im_status: status },
        }),
      );
    }
  }
  return items;
}

const poll: Handler = async (ctx, params, session) => {
  const major = ctx.profile.serverVersionInfo[0] as number;
  const p = bindParams('BusController.poll', params, ['channels', 'last']);
  const given = pythonList(p.channels);
  if (!given.every((c): c is string => typeof c === 'string')) {
    throw new PythonException('builtins.Exception', ONLY_STRINGS);
  }
  const options = (p.options ?? {}) as Record<string, unknown>;
  if (session.uid !== null && 'bus_inactivity' in options) {
    ctx.presenceWrites.push({
      sid: session.sid,
      at: Date.now(),
      inactivity: options.bus_inactivity,
    });
  }
  const channels = longpollingChannels(major, ctx.database, session, given);
  if (typeof p.last !== 'number') {
    throw new PythonException('builtins.TypeError', `'>' not supported for ${dumps(p.last)}`);
  }
  // Unlike 16+, 12.0-15.0 keep a `last` above the highest id: no reset to 0.
  const items = await catchUp(ctx, major, channels, p.last, options, p.force_status === true);
  return `{"db": ${dumps(ctx.database)}, "channels": ${dumps(channels)}, "notifications": [${items.join(', ')}], "version": ${major}}`;
};

const imStatus: Handler = async (ctx, params) => {
  const p = bindParams('BusController.im_status', params, ['partner_ids']);
  const ids = pythonList(p.partner_ids).map(Number);
  return dumps(ids.map((id) => ({ id, im_status: ctx.presence.get(id) ?? 'offline' })));
};

/** The addon's `/bus_sidecar/poll` (12.0-15.0 only). */
export function serveAddonPoll(ctx: RouteContext, request: FakeRequest): Promise<FakeResponse> {
  return serveJson(ctx, request, poll);
}

/** `/longpolling/im_status` (13.0-15.0, `auth="user"`; the fake does not check the user). */
export function serveImStatus(ctx: RouteContext, request: FakeRequest): Promise<FakeResponse> {
  const major = ctx.profile.serverVersionInfo[0] as number;
  if (major < 13) return Promise.resolve(notFound());
  return serveJson(ctx, request, imStatus);
}

/**
 * Odoo's own `/longpolling/poll`, for what the sidecar hands on (calls Odoo fails at once). A well
 * formed call is answered at once too (the fake never holds), as a peek.
 */
export function serveOdooPoll(ctx: RouteContext, request: FakeRequest): Promise<FakeResponse> {
  const major = ctx.profile.serverVersionInfo[0] as number;
  if (request.method === 'OPTIONS' && generationOf(major).pollCors) {
    // `HttpRequest.dispatch` of a `cors` route (observed on 15.0): 200, no body, a new session.
    const { session, stored } = ctx.sessions.resolve(request.headers.cookie);
    ctx.sessions.save(session, stored);
    return Promise.resolve(
      response(200, 'OK', '', 'text/html; charset=utf-8', [
        ['Access-Control-Max-Age', '86400'],
        [
          'Access-Control-Allow-Headers',
          'Origin, X-Requested-With, Content-Type, Accept, Authorization',
        ],
        ['Access-Control-Allow-Origin', '*'],
        ['Access-Control-Allow-Methods', 'POST'],
        ['Set-Cookie', sessionCookie(session.sid)],
      ]),
    );
  }
  return serveJson(
    ctx,
    request,
    async (c, params, session) => {
      const text = await poll(c, params, session);
      const parsed = JSON.parse(text) as { notifications: unknown[]; channels: unknown[] };
      return dumps({ notifications: parsed.notifications, channels: parsed.channels });
    },
    true,
  );
}
