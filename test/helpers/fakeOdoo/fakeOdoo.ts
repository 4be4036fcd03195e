/**
 * A fake of Odoo's HTTP side that the sidecar calls, answering like the recordings of a real
 * Odoo 17.0-20240709 (`fixtures/odoo17/`) or, with `version: '19.0'`, of a real 19.0
 * (`test/fixtures/odoo19/`), never with invented shapes. Where each behaviour comes from:
 *
 * `http-routes.json`
 * - status lines (`200 OK`, `404 NOT FOUND`, ...), header names and their order, `Connection: close`,
 *   `Server: Werkzeug/2.2.2 Python/3.11.2`; CORS headers on JSON successes but not on JSON-RPC errors;
 * - JSON-RPC bodies serialized like Python's `json.dumps` defaults (`", "`, `": "`, raw UTF-8);
 * - `Set-Cookie: session_id=<40 hex>; Expires=<+1 year>; Max-Age=604800; HttpOnly; Path=/` on every
 *   `is_first_poll: true` answer and on CORS preflights (cases `*_first_poll`, `peek_cors_preflight`);
 * - peek: non-string channel → code 200 `builtins.ValueError` (`admin_peek_non_string_channel`);
 *   missing `last` → `builtins.TypeError` (`admin_peek_missing_last`); not first poll on a session that
 *   never made one (no / bogus / unknown / destroyed cookie) → code 100 "Odoo Session Expired"
 *   (`*_not_first_poll`, `destroyed_session_peek_not_first_poll`); the channel list rules
 *   (`admin_*`, `demo2_*`, `public_*`; see `fakeOdooChannels.ts`);
 * - update_bus_presence: code 100 before a first poll, `ValueError` for a non-int
 *   `inactivity_period`, `TypeError` without `im_status_ids_by_model`, else `{"result": {}}`
 *   (`update_presence_*`, `destroyed_session_update_bus_presence`);
 * - `/websocket/on_closed` → werkzeug's 404 page (`on_closed_*`); GET on a JSON route and a non-JSON
 *   body → 400 (`peek_get_method`, `peek_not_jsonrpc_body`); a `None` result has no `result` key
 *   (`destroyed_session_destroy`), which is what later versions' `on_closed` returns.
 * `websocket-session.json`
 * - `/websocket/health` body and headers (`session_info.health_http_port`; the recorder sorted
 *   the header names, so their order here is werkzeug's usual one);
 * - werkzeug's 500 page (`handshake_upgrade_on_http_worker_port`), used by `error500` mode;
 * - a bogus cookie gets a new sid, an unknown well-formed sid is adopted as is
 *   (`bogus_session_cookie_malformed`, `unknown_wellformed_session_cookie`).
 * `bus-rows.json`, `sql-statements.txt`
 * - `_poll`: `last` above the max id → 0; `last == 0` → the last 50 s in whole UTC seconds; channels
 *   by text equality; ordered by id (see `fakeOdooPoll.ts`).
 * `test/fixtures/odoo19/http-routes.json` (profile `19.0`, see `fakeOdooVersions.ts`)
 * - the same envelopes and headers, but server errors with `code 0` and `data` keys in 19's order
 *   (`admin_peek_non_string_channel`, `update_presence_bad_inactivity`), a GET on a JSON route
 *   answered 415 with `Accept` (`peek_get_method`), 84-character sids (`unknown_wellformed_*`);
 * - channel lists in 19's order, with `internal_users` subchannels, groups, the own presence, and
 *   the public user's group (`admin_peek_*`, `demo3_peek_*`, `public_*`; `fakeOdooChannels.ts`);
 * - `update_bus_presence` with `inactivity_period` only, extra arguments answered `{}` and logged
 *   (`update_presence_*`); `on_closed` without `result` (`on_closed_*`);
 * - a successful answer to a request whose sid is not the session's carries `Set-Cookie`
 *   (`on_closed_public_no_cookie`); soft rotation: the old sid is served as the new one, with its
 *   `Set-Cookie`, for 120 s, then is logged out (`session_rotation`, `rotation_*`).
 * `odoo-bus-protocol.md` for the non-recorded versions (16.0, late 17.0, 18.0).
 * The 19 source (`odoo/service/common.py`) for `/web/webclient/version_info`.
 * `src/odoo/addonContract.ts` for the addon's `/bus_sidecar/info`; `fakeOdooLongpolling.ts` for
 * 12.0-15.0 (the addon's `/bus_sidecar/poll` and Odoo's `/longpolling/*`), from their sources.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { INFO_ROUTE, POLL_ROUTE } from '../../../src/odoo/addonContract.js';
import type { PgCluster } from '../servers/postgres.js';
import { HARNESS_APPLICATION_NAME } from '../servers/postgresServer.js';
import { sleep } from '../waitFor.js';
import { seededRandom } from './fakeOdooChannels.js';
import { serveAddonPoll, serveImStatus, serveOdooPoll } from './fakeOdooLongpolling.js';
import { type FakeResponse, health, internalServerError, notFound } from './fakeOdooResponses.js';
import {
  type FakeRequest,
  type RouteContext,
  serveInfo,
  serveOnClosed,
  servePeek,
  serveUpdatePresence,
  serveVersionInfo,
} from './fakeOdooRoutes.js';
import {
  type FakeSession,
  type FakeSessionInit,
  SESSION_DELETION_TIMER_MS,
  SessionStore,
} from './fakeOdooSessions.js';
import { type FakeOdooVersion, VERSION_PROFILES } from './fakeOdooVersions.js';

export type { FakeResponse } from './fakeOdooResponses.js';
export { JsonText, jsonRpcResult, notFound } from './fakeOdooResponses.js';
export type { FakeRequest } from './fakeOdooRoutes.js';
export type { FakeSession, FakeSessionInit } from './fakeOdooSessions.js';
export type { FakeOdooVersion } from './fakeOdooVersions.js';

export interface FakeOdooOptions {
  pg: PgCluster;
  database: string;
  version?: FakeOdooVersion;
  /** The addon's `websocket_worker_version`; default: the version's own (null for 17.0-20240709). */
  workerVersion?: string | null;
  /** Shared secret of the addon's routes; default: a random one (see `fake.secret`). */
  secret?: string;
  /** Seed of the "arbitrary" (Python set) order of peek channel lists. */
  seed?: number;
  /** 19: how long a rotated sid stays usable (`SESSION_DELETION_TIMER`, 120 s). */
  sessionDeletionTimerMs?: number;
  /** Public discuss channels, which visitors may read too. */
  publicChannels?: readonly number[];
  /**
   * The addon keeps session ids on the sidecar's calls (19 only; default true there): requests
   * with the shared secret never rotate a session, and the info route says so.
   */
  addonKeepsSessionIds?: boolean;
}

export interface RecordedCall {
  method: string;
  path: string;
  /** The request target exactly as it arrived (path and query, not normalised). */
  target: string;
  /** Lower-case names; repeated headers joined with ", " (cookies with "; "). */
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text; undefined when empty. */
  body: unknown;
  /** `Date.now()` when the request arrived. */
  at: number;
}

export type FakeOdooMode = 'ok' | 'down' | 'slow' | 'lagging' | 'held' | 'error500';
export type RouteHandler = (request: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface FakeOdoo {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly version: FakeOdooVersion;
  readonly secret: string;
  readonly calls: readonly RecordedCall[];
  callsTo(path: string): RecordedCall[];
  /** Requests being answered now, and the most at any one time. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Sessions the fake created for visitors (first polls and preflights without a valid cookie). */
  readonly sessionsCreated: number;
  /** Unexpected exceptions of the fake itself (answered with a 500). */
  readonly errors: readonly unknown[];
  /** 12.0-15.0: the presence updates that polls carried to Odoo, in order. */
  readonly presenceWrites: ReadonlyArray<{ sid: string; at: number; inactivity: unknown }>;
  /** 12.0-15.0: the im_status Odoo reports for a partner (12.0's poll items, im_status route). */
  setImStatus(partnerId: number, status: string): void;
  addSession(init: FakeSessionInit): string;
  destroySession(sid: string): boolean;
  /**
   * The session's user changed password: the session is logged out at its next request, after
   * `staleAnswers` requests answered by workers that have not seen the change yet.
   */
  invalidateSession(sid: string, options?: { staleAnswers?: number }): void;
  session(sid: string): FakeSession | undefined;
  /**
   * 19: soft-rotates a session now, as a request of the browser itself would after 3 h; returns the
   * new sid (same first 42 characters). The old sid works as the new one for the deletion timer.
   */
  rotateSession(sid: string): string;
  /** 19: the session's `create_time` is over 3 h old: the next request that saves it rotates it. */
  ageSession(sid: string): void;
  /** 19: moves a rotated sid's deletion time into the past. */
  expireRotation(sid: string): void;
  /** The presence token Odoo 19 gives the web client for a record (`im_status_access_token`). */
  presenceToken(model: string, id: number): string;
  /** WARNING lines Odoo would have logged (e.g. an ignored `im_status_ids_by_model`). */
  readonly warnings: readonly string[];
  /** Overrides (or adds) the answer of one method + path. */
  route(method: string, path: string, handler: RouteHandler): void;
  /** Gives one method + path its usual answer again. */
  unroute(method: string, path: string): void;
  /**
   * Holds the requests `matches` picks (recorded in `calls` on arrival, answered normally once
   * released): a slow Odoo worker for some clients only. `held` counts those waiting now.
   */
  hold(matches: (request: FakeRequest) => boolean): { readonly held: number; release(): void };
  /**
   * `down`: the listening socket is closed (connections refused) and open connections are cut;
   * `ok` listens again on the same port. `slow` delays every answer by `delayMs` (default 1000);
   * `lagging` computes every answer at once but sends it `delayMs` later (what Odoo read is then
   * older than the answer). `held`: like `lagging`, but each answer waits until `releaseHeld()`
   * or a change of mode (or until the caller goes away): a test decides when Odoo answers, so
   * calls stay in flight for as long as it needs, however slow the machine. `error500`:
   * werkzeug's 500 page for everything.
   */
  setMode(mode: FakeOdooMode, options?: { delayMs?: number }): Promise<void>;
  /** `held` mode: answers computed and waiting for `releaseHeld()`. */
  readonly heldAnswers: number;
  /** Sends every answer held so far (the mode stays `held` for later calls). */
  releaseHeld(): void;
  close(): Promise<void>;
}

function headerRecord(request: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parsedBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, answer: FakeResponse): void {
  // Exactly the recorded headers: no Date or keep-alive headers added by Node.
  response.sendDate = false;
  response.writeHead(answer.status, answer.reason, answer.headers.flat());
  response.end(answer.body);
}

class FakeOdooServer implements FakeOdoo {
  readonly host = '127.0.0.1';
  readonly calls: RecordedCall[] = [];
  readonly errors: unknown[] = [];
  inFlight = 0;
  maxInFlight = 0;
  port = 0;
  private mode: FakeOdooMode = 'ok';
  private delayMs = 1000;
  private readonly held = new Set<() => void>();
  private readonly custom = new Map<string, RouteHandler>();
  private readonly holds: Array<{
    matches: (request: FakeRequest) => boolean;
    released: Promise<void>;
    count: { held: number };
  }> = [];
  private readonly server: Server;

  constructor(
    private readonly ctx: RouteContext,
    readonly version: FakeOdooVersion,
  ) {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }
  get database(): string {
    return this.ctx.database;
  }
  get secret(): string {
    return this.ctx.secret;
  }
  get sessionsCreated(): number {
    return this.ctx.sessions.created;
  }
  get presenceWrites(): ReadonlyArray<{ sid: string; at: number; inactivity: unknown }> {
    return this.ctx.presenceWrites;
  }
  setImStatus(partnerId: number, status: string): void {
    this.ctx.presence.set(partnerId, status);
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    response.once('close', () => this.inFlight--);
    try {
      const rawBody = await readBody(request);
      const url = new URL(request.url ?? '/', this.url);
      const fake: FakeRequest = {
        method: request.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: headerRecord(request),
        rawBody,
      };
      this.calls.push({
        method: fake.method,
        path: fake.path,
        target: request.url ?? '',
        headers: fake.headers,
        body: parsedBody(rawBody),
        at: Date.now(),
      });
      for (const hold of this.holds) {
        if (!hold.matches(fake)) continue;
        hold.count.held++;
        await hold.released;
        hold.count.held--;
      }
      if (this.mode === 'slow') await sleep(this.delayMs);
      const answer = this.mode === 'error500' ? internalServerError() : await this.answer(fake);
      if (this.mode === 'lagging') await sleep(this.delayMs);
      if (this.mode === 'held') await this.holdAnswer(response);
      send(response, answer);
    } catch (error) {
      this.errors.push(error);
      if (!response.headersSent) send(response, internalServerError());
    }
  }

  private answer(request: FakeRequest): FakeResponse | Promise<FakeResponse> {
    const custom = this.custom.get(`${request.method} ${request.path}`);
    if (custom !== undefined) return custom(request);
    if (this.ctx.profile.transport === 'longpolling') {
      switch (request.path) {
        case POLL_ROUTE:
          return serveAddonPoll(this.ctx, request);
        case '/longpolling/poll':
          return serveOdooPoll(this.ctx, request);
        case '/longpolling/im_status':
          return serveImStatus(this.ctx, request);
        case INFO_ROUTE:
          return serveInfo(this.ctx, request);
        // `auth='none'` in every version from 12 on (`web/controllers/main.py`).
        case '/web/webclient/version_info':
          return serveVersionInfo(this.ctx, request);
        default:
          return notFound();
      }
    }
    switch (request.path) {
      case '/websocket/peek_notifications':
        return servePeek(this.ctx, request);
      case '/websocket/update_bus_presence':
        return serveUpdatePresence(this.ctx, request);
      case '/websocket/on_closed':
        return this.ctx.profile.hasOnClosed ? serveOnClosed(this.ctx, request) : notFound();
      case '/websocket/health':
        return health();
      case '/web/webclient/version_info':
        return serveVersionInfo(this.ctx, request);
      case INFO_ROUTE:
        return serveInfo(this.ctx, request);
      default:
        return notFound();
    }
  }

  callsTo(path: string): RecordedCall[] {
    return this.calls.filter((call) => call.path === path);
  }

  addSession(init: FakeSessionInit): string {
    return this.ctx.sessions.add(init);
  }

  destroySession(sid: string): boolean {
    return this.ctx.sessions.destroy(sid);
  }

  invalidateSession(sid: string, { staleAnswers = 0 }: { staleAnswers?: number } = {}): void {
    this.ctx.sessions.invalidate(sid, staleAnswers);
  }

  session(sid: string): FakeSession | undefined {
    return this.ctx.sessions.get(sid);
  }

  rotateSession(sid: string): string {
    const session = this.ctx.sessions.get(sid);
    if (!session) throw new Error('no such session');
    return this.ctx.sessions.softRotate(session).sid;
  }

  ageSession(sid: string): void {
    const session = this.ctx.sessions.get(sid);
    if (!session) throw new Error('no such session');
    if (!this.ctx.profile.rotatesSessions) throw new Error('this version does not rotate sessions');
    session.rotationDue = true;
  }

  expireRotation(sid: string): void {
    this.ctx.sessions.expireRotation(sid);
  }

  presenceToken(model: string, id: number): string {
    return this.ctx.presenceToken(model, id);
  }

  get warnings(): readonly string[] {
    return this.ctx.warnings;
  }

  route(method: string, path: string, handler: RouteHandler): void {
    this.custom.set(`${method.toUpperCase()} ${path}`, handler);
  }

  hold(matches: (request: FakeRequest) => boolean): { readonly held: number; release(): void } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const count = { held: 0 };
    const hold = { matches, released, count };
    this.holds.push(hold);
    return {
      get held() {
        return count.held;
      },
      release: () => {
        const index = this.holds.indexOf(hold);
        if (index >= 0) this.holds.splice(index, 1);
        release();
      },
    };
  }

  unroute(method: string, path: string): void {
    this.custom.delete(`${method.toUpperCase()} ${path}`);
  }

  private stopListening(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  async setMode(mode: FakeOdooMode, options: { delayMs?: number } = {}): Promise<void> {
    if (options.delayMs !== undefined) this.delayMs = options.delayMs;
    if (mode === 'down') await this.stopListening();
    else if (!this.server.listening) await this.listen(this.port);
    this.mode = mode;
    if (mode !== 'held') this.releaseHeld();
  }

  get heldAnswers(): number {
    return this.held.size;
  }

  releaseHeld(): void {
    for (const release of [...this.held]) release();
  }

  private holdAnswer(response: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        this.held.delete(release);
        response.off('close', release);
        resolve();
      };
      this.held.add(release);
      // The caller gave up (a timeout, a browser gone): there is nobody left to answer.
      response.once('close', release);
    });
  }

  async close(): Promise<void> {
    this.releaseHeld();
    await this.stopListening();
    await this.ctx.db.end();
  }
}

/** Starts the fake on 127.0.0.1 (free port); it reads `bus_bus` of `database` on `pg` as `odoo`. */
export async function startFakeOdoo(options: FakeOdooOptions): Promise<FakeOdoo> {
  const version = options.version ?? '17.0-20240709';
  const profile = VERSION_PROFILES[version];
  const db = new pg.Pool({
    ...options.pg.connection(options.database),
    application_name: `${HARNESS_APPLICATION_NAME}-fake-odoo`,
    max: 5,
    allowExitOnIdle: true,
  });
  db.on('error', () => {});
  const secret = options.secret ?? randomBytes(16).toString('hex');
  const fake = new FakeOdooServer(
    {
      profile,
      database: options.database,
      sessions: new SessionStore({
        sidPattern: profile.sidPattern,
        newSid: profile.newSid,
        rotates: profile.rotatesSessions,
        deletionTimerMs: options.sessionDeletionTimerMs ?? SESSION_DELETION_TIMER_MS,
        publicChannels: options.publicChannels ?? [],
      }),
      db,
      random: seededRandom(options.seed ?? 17),
      workerVersion:
        options.workerVersion === undefined ? profile.workerVersion : options.workerVersion,
      secret,
      presence: new Map(),
      presenceWrites: [],
      warnings: [],
      addonKeepsSessionIds: profile.rotatesSessions && (options.addonKeepsSessionIds ?? true),
      // `<64 hex>o0x<hex expiry>`, the recorded shape (`browser-frames.json` subscribe strings).
      presenceToken: (model, id) =>
        `${createHash('sha256').update(`${secret}:${model}:${id}`).digest('hex')}o0x6b2ea8c8`,
    },
    version,
  );
  await fake.listen();
  return fake;
}
