/**
 * The route handlers of the fake Odoo. Each answers like the recorded Odoo 17 build, or like the
 * recorded 19.0 where the profile says so (see `fakeOdoo.ts` for which recording shows what).
 */
import type pg from 'pg';
import { pythonDumps } from '../../../src/json/pythonJson.js';
import { FEATURE_KEEPS_SESSION_IDS } from '../../../src/odoo/addonContract.js';
import { buildChannelList, shuffled } from './fakeOdooChannels.js';
import { maxBusId, pollNotifications } from './fakeOdooPoll.js';
import {
  assertComparableToInt,
  bindParams,
  PythonException,
  pythonInt,
  pythonList,
  pythonTruthy,
} from './fakeOdooPython.js';
import {
  corsPreflight,
  type FakeResponse,
  invalidJson,
  JsonText,
  jsonRpcError,
  jsonRpcResult,
  plainJson,
  serverError,
  sessionCookie,
  sessionExpired,
  wrongRequestType,
} from './fakeOdooResponses.js';
import { type FakeSession, type SessionStore, sessionIdFromCookie } from './fakeOdooSessions.js';
import type { VersionProfile } from './fakeOdooVersions.js';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case names. */
  headers: Record<string, string>;
  rawBody: string;
}

export interface RouteContext {
  profile: VersionProfile;
  database: string;
  sessions: SessionStore;
  db: pg.Pool;
  random: () => number;
  workerVersion: string | null;
  secret: string;
  /** 12.0-15.0: the im_status the fake reports per partner (default `offline`). */
  presence: Map<number, string>;
  /** 12.0-15.0: the presence updates polls carried to Odoo, in order. */
  presenceWrites: Array<{ sid: string; at: number; inactivity: unknown }>;
  /** The WARNING lines Odoo would log (e.g. `called ignoring args`), for tests to assert on. */
  warnings: string[];
  /** The presence token Odoo 19 accepts for a record (`im_status_access_token`). */
  presenceToken: (model: string, id: number) => string;
  /**
   * The addon's `FEATURE_KEEPS_SESSION_IDS` (19): a request carrying the shared secret never
   * rotates a session, and the info route names the feature.
   */
  addonKeepsSessionIds: boolean;
}

/** `odoo.http.SessionExpiredException`. */
class SessionExpired extends Error {}

interface JsonOutcome {
  /** undefined: Python `None` (no `result` key). */
  result: JsonText | undefined;
  /** The session changed: store it and send `Set-Cookie`. */
  dirty: boolean;
}

type JsonHandler = (
  ctx: RouteContext,
  params: unknown,
  session: FakeSession,
) => Promise<JsonOutcome>;

function mimetype(request: FakeRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Odoo's JSON-RPC dispatcher around a `type='json'` (19: `'jsonrpc'`), `auth='public'`, `cors='*'`
 * route, then `_save_session`:
 * - a session the request changed is stored and its cookie sent;
 * - 19: a session due for rotation is soft-rotated, and a successful answer sends `Set-Cookie`
 *   whenever the request's sid is not the session's (a new visitor: `on_closed_public_no_cookie`;
 *   a rotated sid: `rotation_soft_request_with_S1`, `rotation_old_sid_*`), without storing a
 *   session nothing changed. Errors send none.
 */
async function serveJson(
  ctx: RouteContext,
  request: FakeRequest,
  handler: JsonHandler,
): Promise<FakeResponse> {
  const { session, stored } = ctx.sessions.resolve(request.headers.cookie);
  if (request.method === 'OPTIONS') {
    ctx.sessions.save(session, stored);
    return corsPreflight(sessionCookie(session.sid));
  }
  if (!['application/json', 'application/json-rpc'].includes(mimetype(request))) {
    return wrongRequestType(request.path, ctx.profile);
  }
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody);
  } catch {
    return invalidJson();
  }
  const envelope = (body ?? {}) as { id?: unknown; params?: unknown };
  let outcome: JsonOutcome;
  try {
    outcome = await handler(ctx, envelope.params, session);
  } catch (error) {
    if (error instanceof SessionExpired) {
      return jsonRpcError(envelope.id, sessionExpired(), ctx.profile);
    }
    if (error instanceof PythonException) {
      return jsonRpcError(
        envelope.id,
        serverError(error.pythonClass, error.message, ctx.profile),
        ctx.profile,
      );
    }
    throw error;
  }
  let saved = session;
  if (outcome.dirty) ctx.sessions.save(session, stored);
  const fromSidecar =
    ctx.addonKeepsSessionIds && request.headers['x-bus-sidecar-secret'] === ctx.secret;
  if (
    ctx.profile.rotatesSessions &&
    stored &&
    session.rotationDue &&
    session.uid !== null &&
    !fromSidecar
  ) {
    saved = ctx.sessions.softRotate(session);
  }
  const cookieSid = sessionIdFromCookie(request.headers.cookie);
  const sendCookie = outcome.dirty || (ctx.profile.rotatesSessions && cookieSid !== saved.sid);
  return jsonRpcResult(
    envelope.id,
    outcome.result,
    sendCookie ? sessionCookie(saved.sid) : undefined,
  );
}

const peekNotifications: JsonHandler = async (ctx, params, session) => {
  const p = bindParams('WebsocketController.peek_notifications', params, ['channels', 'last']);
  const channels = pythonList(p.channels);
  if (!channels.every((c): c is string => typeof c === 'string')) {
    throw new PythonException('builtins.ValueError', 'bus.Bus only string channels are allowed.');
  }
  const firstPoll = pythonTruthy(p.is_first_poll);
  if (!firstPoll && !session.isWebsocketSession) throw new SessionExpired();
  const built = buildChannelList(
    ctx.profile,
    ctx.database,
    session,
    channels,
    (model, id, token) => token === ctx.presenceToken(model, id),
  );
  // A Python set up to 18 (arbitrary order), an ordered set in 19.
  const list = ctx.profile.odoo19Channels ? built : shuffled(built, ctx.random);
  let last = assertComparableToInt(p.last);
  if (last > (await maxBusId(ctx.db))) last = 0;
  const notifications = await pollNotifications(ctx.db, list, last);
  // Set only once the call succeeded: a failed request does not save the session.
  if (firstPoll) session.isWebsocketSession = true;
  const channelsJson = pythonDumps(list, { compact: false, ensureAscii: false });
  return {
    result: new JsonText(`{"channels": ${channelsJson}, "notifications": ${notifications}}`),
    dirty: firstPoll,
  };
};

const updateBusPresence: JsonHandler = async (ctx, params, session) => {
  const required = ctx.profile.presenceRequiresImStatus
    ? ['inactivity_period', 'im_status_ids_by_model']
    : ['inactivity_period'];
  const p = bindParams(ctx.profile.presenceFunction, params, required);
  if (!session.isWebsocketSession) throw new SessionExpired();
  pythonInt(p.inactivity_period);
  const ignored = Object.keys(p).filter((name) => !required.includes(name));
  if (ignored.length > 0) {
    // `update_presence_with_im_status_ids` of 19: answered `{}`, logged as a WARNING.
    ctx.warnings.push(
      `<function odoo.addons.mail.controllers.websocket.update_bus_presence> called ignoring args {${ignored.map((n) => `'${n}'`).join(', ')}}`,
    );
  }
  return { result: new JsonText('{}'), dirty: false };
};

/** Late 17 / 18 / 19: sets the presence offline and returns None. */
const onClosed: JsonHandler = async () => ({ result: undefined, dirty: false });

export function servePeek(ctx: RouteContext, request: FakeRequest): Promise<FakeResponse> {
  return serveJson(ctx, request, peekNotifications);
}

export function serveUpdatePresence(
  ctx: RouteContext,
  request: FakeRequest,
): Promise<FakeResponse> {
  return serveJson(ctx, request, updateBusPresence);
}

export function serveOnClosed(ctx: RouteContext, request: FakeRequest): Promise<FakeResponse> {
  return serveJson(ctx, request, onClosed);
}

/**
 * `/web/webclient/version_info` (`type='json'`, 19 `'jsonrpc'`, `auth='none'`): `exp_version()`,
 * i.e. `RPC_VERSION_1` of `odoo/service/common.py` (read in the 19 source; not recorded). Needs no
 * session and no database; the fake sends no cookie with it.
 */
export async function serveVersionInfo(
  ctx: RouteContext,
  request: FakeRequest,
): Promise<FakeResponse> {
  if (!['application/json', 'application/json-rpc'].includes(mimetype(request))) {
    return wrongRequestType(request.path, ctx.profile);
  }
  let id: unknown = null;
  try {
    id = (JSON.parse(request.rawBody) as { id?: unknown })?.id ?? null;
  } catch {
    return invalidJson();
  }
  const serie = ctx.profile.serverVersionInfo.slice(0, 2).join('.');
  const result = pythonDumps(
    {
      server_version: ctx.profile.serverVersion,
      server_version_info: ctx.profile.serverVersionInfo,
      server_serie: serie,
      protocol_version: 1,
    },
    { compact: false, ensureAscii: false },
  );
  return jsonRpcResult(id, new JsonText(result));
}

/** The `bus_sidecar` addon's info route (`src/odoo/addonContract.ts`). */
export function serveInfo(ctx: RouteContext, request: FakeRequest): FakeResponse {
  if (request.headers['x-bus-sidecar-secret'] !== ctx.secret) {
    return plainJson(403, 'FORBIDDEN', { error: 'missing or wrong X-Bus-Sidecar-Secret header' });
  }
  return plainJson(200, 'OK', {
    server_version: ctx.profile.serverVersion,
    server_version_info: ctx.profile.serverVersionInfo,
    websocket_worker_version: ctx.workerVersion,
    features: ctx.addonKeepsSessionIds ? [FEATURE_KEEPS_SESSION_IDS] : [],
    server_time: new Date().toISOString(),
  });
}
