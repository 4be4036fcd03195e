/**
 * The bytes Odoo 17 and 19 (werkzeug 2.2.2 behind both) answer with, as recorded in
 * `http-routes.json` and `websocket-session.json` of both: status lines with werkzeug's upper-case
 * reasons, header names in the recorded order, werkzeug's HTML error pages, and JSON-RPC envelopes
 * serialized like Python's default `json.dumps` (`", "` / `": "`, raw UTF-8). Where 19 differs
 * (error code, key order, 415), the version profile says so.
 */

import { pythonDumps } from '../../../src/json/pythonJson.js';
import type { VersionProfile } from './fakeOdooVersions.js';

export interface FakeResponse {
  status: number;
  reason: string;
  /** In wire order; repeated names allowed (several `Set-Cookie`). */
  headers: Array<[string, string]>;
  /** Text, or bytes for large answers (sent as they are). */
  body: string | Buffer;
}

export const SERVER_HEADER = 'Werkzeug/2.2.2 Python/3.11.2';
const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** The headers `cors="*"` JSON routes add on success (not on errors: recorded). */
const CORS_POST: Array<[string, string]> = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Methods', 'POST'],
];

function httpDate(at = new Date()): string {
  return at.toUTCString();
}

function byteLength(body: string): string {
  return String(Buffer.byteLength(body, 'utf8'));
}

/** `session_id=<sid>; Expires=<now + 1 year>; Max-Age=604800; HttpOnly; Path=/` (recorded format). */
export function sessionCookie(sid: string, now = Date.now()): string {
  const expires = httpDate(new Date(now + 365 * 86_400_000));
  return `session_id=${sid}; Expires=${expires}; Max-Age=604800; HttpOnly; Path=/`;
}

function htmlEscape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function werkzeugPage(status: number, title: string, description: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${description}</p>\n`;
}

type Headers = Array<[string, string]>;

/**
 * Every recorded answer of the HTTP workers starts with `Server, Date` and ends with
 * `Connection: close`; what lies between differs per kind of answer.
 */
function werkzeug(status: number, reason: string, body: string, between: Headers): FakeResponse {
  const headers: Headers = [['Server', SERVER_HEADER], ['Date', httpDate()], ...between];
  return { status, reason, headers: [...headers, ['Connection', 'close']], body };
}

/** A werkzeug HTML error: `Content-Type, Content-Length` between. */
function htmlError(status: number, reason: string, body: string): FakeResponse {
  return werkzeug(status, reason, body, [
    ['Content-Type', HTML],
    ['Content-Length', byteLength(body)],
  ]);
}

export function notFound(): FakeResponse {
  return htmlError(
    404,
    'NOT FOUND',
    werkzeugPage(
      404,
      'Not Found',
      'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.',
    ),
  );
}

export function internalServerError(): FakeResponse {
  return htmlError(
    500,
    'INTERNAL SERVER ERROR',
    werkzeugPage(
      500,
      'Internal Server Error',
      'The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.',
    ),
  );
}

/**
 * A GET (or a non-JSON POST) on a JSON-RPC route: 400 in 17 (`peek_get_method`); 415 with an
 * `Accept` header and a second sentence in 19 (`peek_get_method` of 19).
 */
export function wrongRequestType(path: string, profile: VersionProfile): FakeResponse {
  const { status, routeType, compatible } = profile.wrongRequestType;
  const message = htmlEscape(
    `Request inferred type is compatible with ${compatible} but '${path}' is type='${routeType}'.`,
  );
  if (status === 400) {
    return htmlError(400, 'BAD REQUEST', werkzeugPage(400, 'Bad Request', message));
  }
  const body = werkzeugPage(
    415,
    'Unsupported Media Type',
    `${message}<br><br>Please verify the Content-Type request header and try again.`,
  );
  return werkzeug(415, 'UNSUPPORTED MEDIA TYPE', body, [
    ['Content-Type', HTML],
    ['Content-Length', byteLength(body)],
    ['Accept', 'application/json, application/json-rpc'],
  ]);
}

/** A body that is not JSON, on a JSON route: plain text, after the CORS pre-dispatch ran. */
export function invalidJson(): FakeResponse {
  const body = 'Invalid JSON data';
  return werkzeug(400, 'BAD REQUEST', body, [
    ['Content-Type', HTML],
    ['Content-Length', byteLength(body)],
    ...CORS_POST,
    ['X-Content-Type-Options', 'nosniff'],
  ]);
}

/** CORS preflight on a `cors="*"` route: 204, and Odoo creates (and sets) a session. */
export function corsPreflight(setCookie: string): FakeResponse {
  return werkzeug(204, 'NO CONTENT', '', [
    ['Content-Type', HTML],
    ...CORS_POST,
    ['Access-Control-Max-Age', '86400'],
    [
      'Access-Control-Allow-Headers',
      'Origin, X-Requested-With, Content-Type, Accept, Authorization',
    ],
    ['Set-Cookie', setCookie],
    ['X-Content-Type-Options', 'nosniff'],
  ]);
}

/** A pre-encoded JSON text, spliced as is into an envelope. */
export class JsonText {
  constructor(readonly text: string) {}
}

function envelope(
  id: unknown,
  key: 'result' | 'error' | null,
  value: JsonText | undefined,
): string {
  const head = `{"jsonrpc": "2.0", "id": ${pythonDumps(id ?? null, { compact: false, ensureAscii: false })}`;
  return key === null || value === undefined ? `${head}}` : `${head}, "${key}": ${value.text}}`;
}

/** JSON answers: `Content-Length, Content-Type` first, then what the route adds. */
function json(status: number, reason: string, body: string, extra: Headers): FakeResponse {
  return werkzeug(status, reason, body, [
    ['Content-Length', byteLength(body)],
    ['Content-Type', JSON_TYPE],
    ...extra,
  ]);
}

/**
 * A successful JSON-RPC answer. `result` undefined means Python `None`: Odoo then leaves the
 * `result` key out (recorded on `/web/session/destroy`).
 */
export function jsonRpcResult(
  id: unknown,
  result: JsonText | undefined,
  setCookie?: string,
): FakeResponse {
  const body = envelope(id, result === undefined ? null : 'result', result);
  const cookie: Headers = setCookie === undefined ? [] : [['Set-Cookie', setCookie]];
  return json(200, 'OK', body, [...CORS_POST, ...cookie, ['X-Content-Type-Options', 'nosniff']]);
}

export interface OdooError {
  code: number;
  message: string;
  data: {
    name: string;
    debug: string;
    message: string;
    arguments: unknown[];
    context: Record<string, unknown>;
  };
}

/**
 * An exception turned into a JSON-RPC error: still HTTP 200, and no CORS headers (recorded). The
 * keys of `data` in the version's recorded order.
 */
export function jsonRpcError(id: unknown, error: OdooError, profile: VersionProfile): FakeResponse {
  const data: Record<string, unknown> = {};
  for (const key of profile.errorDataKeys) data[key] = error.data[key as keyof OdooError['data']];
  const encoded = new JsonText(
    pythonDumps({ ...error, data }, { compact: false, ensureAscii: false }),
  );
  return json(200, 'OK', envelope(id, 'error', encoded), []);
}

function traceback(lastLine: string): string {
  return `Traceback (most recent call last):\n  File "fake_odoo.py", line 1, in dispatch\n${lastLine}\n`;
}

/**
 * `"Odoo Server Error"` for a Python exception such as `builtins.ValueError`: code 200 up to 18,
 * code 0 in 19 (`admin_peek_non_string_channel` of each).
 */
export function serverError(
  pythonClass: string,
  message: string,
  profile: VersionProfile,
): OdooError {
  const short = pythonClass.replace(/^builtins\./, '');
  return {
    code: profile.serverErrorCode,
    message: 'Odoo Server Error',
    data: {
      name: pythonClass,
      debug: traceback(`${short}: ${message}`),
      message,
      arguments: [message],
      context: {},
    },
  };
}

/** `code 100 "Odoo Session Expired"`, `data.message` empty (recorded). */
export function sessionExpired(): OdooError {
  return {
    code: 100,
    message: 'Odoo Session Expired',
    data: {
      name: 'odoo.http.SessionExpiredException',
      debug: traceback('odoo.http.SessionExpiredException'),
      message: '',
      arguments: [],
      context: {},
    },
  };
}

/**
 * `/websocket/health`: body of the 17 recording (`websocket-session.json` →
 * `session_info.health_http_port`), header order of the 19 one (`health_http_port` of
 * `http-routes.json`; the 17 recorder had sorted them).
 */
export function health(): FakeResponse {
  const body = pythonDumps({ status: 'pass' }, { compact: false });
  return werkzeug(200, 'OK', body, [
    ['Content-Type', 'application/json'],
    ['Cache-Control', 'no-store'],
    ['Content-Length', byteLength(body)],
    ['X-Content-Type-Options', 'nosniff'],
  ]);
}

/** A plain JSON answer of an `http` route (the addon's info route). */
export function plainJson(status: number, reason: string, value: unknown): FakeResponse {
  const body = pythonDumps(value, { compact: false, ensureAscii: false });
  return json(status, reason, body, [['X-Content-Type-Options', 'nosniff']]);
}
