/**
 * The route handlers of the fake Odoo. Each answers like the recorded Odoo 17 build (see
 * `fakeOdoo.ts` for which recording shows what), adjusted by the version profile.
 */
import type pg from 'pg';
import { pythonDumps } from '../../src/json/pythonJson.js';
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
import type { FakeSession, SessionStore } from './fakeOdooSessions.js';
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

/** Odoo's JSON-RPC dispatcher around a `type='json', auth='public', cors='*'` route. */
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
    return wrongRequestType(request.path);
  }
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody);
  } catch {
    return invalidJson();
  }
  const envelope = (body ?? {}) as { id?: unknown; params?: unknown };
  try {
    const outcome = await handler(ctx, envelope.params, session);
    if (!outcome.dirty) return jsonRpcResult(envelope.id, outcome.result);
    ctx.sessions.save(session, stored);
    return jsonRpcResult(envelope.id, outcome.result, sessionCookie(session.sid));
  } catch (error) {
    if (error instanceof SessionExpired) return jsonRpcError(envelope.id, sessionExpired());
    if (error instanceof PythonException) {
      return jsonRpcError(envelope.id, serverError(error.pythonClass, error.message));
    }
    throw error;
  }
}

const peekNotifications: JsonHandler = async (ctx, params, session) => {
  const p = bindParams('WebsocketController.peek_notifications', params, ['channels', 'last']);
  const channels = pythonList(p.channels);
  if (!channels.every((c): c is string => typeof c === 'string')) {
    throw new PythonException('builtins.ValueError', 'bus.Bus only string channels are allowed.');
  }
  const firstPoll = pythonTruthy(p.is_first_poll);
  if (!firstPoll && !session.isWebsocketSession) throw new SessionExpired();
  const list = shuffled(buildChannelList(ctx.profile, ctx.database, session, channels), ctx.random);
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
  const p = bindParams('WebsocketController.update_bus_presence', params, required);
  if (!session.isWebsocketSession) throw new SessionExpired();
  pythonInt(p.inactivity_period);
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

/** The `bus_sidecar` addon's info route (`src/odoo/addonContract.ts`). */
export function serveInfo(ctx: RouteContext, request: FakeRequest): FakeResponse {
  if (request.headers['x-bus-sidecar-secret'] !== ctx.secret) {
    return plainJson(403, 'FORBIDDEN', { error: 'missing or wrong X-Bus-Sidecar-Secret header' });
  }
  return plainJson(200, 'OK', {
    server_version: ctx.profile.serverVersion,
    server_version_info: ctx.profile.serverVersionInfo,
    websocket_worker_version: ctx.workerVersion,
    server_time: new Date().toISOString(),
  });
}
