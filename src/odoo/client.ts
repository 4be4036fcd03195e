/**
 * HTTP client to Odoo's workers: the JSON-RPC routes Odoo ships for external websocket servers
 * (`/websocket/peek_notifications`, `/websocket/update_bus_presence`, `/websocket/on_closed`), the
 * addon's info route, and plain forwarding. Every call goes through one `Limiter` (bounded
 * concurrency and queue) and has a time limit; the outcome is classified once here so transports only
 * decide what the client sees.
 */
import { Agent, type Dispatcher, request } from 'undici';
import { type JsonNode, member, parseJson, safeInteger } from '../json/rawJson.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { INFO_ROUTE, SECRET_HEADER } from './addonContract.js';
import { sessionSetCookie } from './cookies.js';
import { CallAbandonedError, Limiter, QueueFullError } from './limiter.js';

/** Headers describing the browser's request, forwarded so that Odoo sees the same client. */
export interface BrowserContext {
  /** The browser's Cookie header ('' for a downgraded cross-origin socket). */
  cookie: string;
  host: string | undefined;
  forwardedFor: string | undefined;
  forwardedHost: string | undefined;
  forwardedProto: string | undefined;
  userAgent: string | undefined;
}

/**
 * What one JSON-RPC call to Odoo came to. Answers that Odoo gave keep its `Set-Cookie` headers (long
 * polling hands them to the browser, as Odoo's own poll does) and its whole body text.
 */
export type RpcOutcome =
  | {
      kind: 'result';
      text: string;
      result: JsonNode;
      newSessionId: string | undefined;
      setCookie: string[];
      /** The whole `Set-Cookie` header that gave `newSessionId`. */
      sessionCookie: string | undefined;
    }
  | {
      kind: 'sessionExpired';
      newSessionId: string | undefined;
      text: string;
      setCookie: string[];
      sessionCookie: string | undefined;
    }
  | {
      kind: 'rpcError';
      code: number | undefined;
      name: string | undefined;
      message: string;
      text: string;
      setCookie: string[];
    }
  | { kind: 'notFound' }
  | {
      kind: 'unavailable';
      reason:
        | 'queueFull'
        | 'timeout'
        | 'connect'
        | 'http'
        | 'badResponse'
        | 'abandoned'
        | 'unserializable';
      detail: string;
    };

export interface OdooInfo {
  serverVersion: string | undefined;
  major: number | undefined;
  workerVersion: string | null;
  /** What the addon does beyond the basics (`FEATURE_*` of the contract); [] from Odoo itself. */
  features: string[];
}

/** What asking Odoo for its version came to; the caller decides what to log (see `OdooInfoSource`). */
export type InfoOutcome =
  | { kind: 'info'; info: OdooInfo }
  /** The route answered 404: the addon is not loaded (or, for version_info, this is not Odoo). */
  | { kind: 'notFound' }
  /** 403 from the addon: a wrong secret, or none configured in Odoo. */
  | { kind: 'refused'; notConfigured: boolean }
  | { kind: 'unavailable'; detail: string };

export interface OdooClientOptions {
  baseUrl: string;
  concurrency: number;
  queueLimit: number;
  timeoutMs: number;
  /** Bytes of one answer read (the sidecar's own calls); past it the call fails. */
  maxAnswerBytes: number;
  /**
   * The addon's shared secret: sent on the calls made for browsers too, so that Odoo (with the
   * addon) knows them from the browser's own requests (it does not rotate sessions for them).
   */
  secret?: string | undefined;
  logger: Logger;
  metrics: Metrics;
}

const SESSION_EXPIRED = 'odoo.http.SessionExpiredException';
const VERSION_INFO_ROUTE = '/web/webclient/version_info';

export class OdooClient {
  readonly limiter: Limiter;
  private readonly agent: Agent;
  private readonly origin: string;
  private rpcId = 0;

  constructor(private readonly options: OdooClientOptions) {
    this.origin = new URL(options.baseUrl).origin;
    this.agent = new Agent({
      connections: options.concurrency * 2,
      keepAliveTimeout: 4_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: Math.min(options.timeoutMs, 5_000) },
    });
    this.limiter = new Limiter(options.concurrency, options.queueLimit, (active, queued) => {
      options.metrics.odooInFlight.set(active);
      options.metrics.odooQueued.set(queued);
    });
  }

  /** Calls a JSON-RPC route of Odoo on behalf of a browser. */
  async rpc(
    route: string,
    params: Record<string, unknown>,
    browser: BrowserContext,
    signal?: AbortSignal,
  ): Promise<RpcOutcome> {
    let body: string;
    try {
      body = JSON.stringify({ jsonrpc: '2.0', method: 'call', params, id: ++this.rpcId });
    } catch (error) {
      // Parameters come from checked client messages; should one still not serialize, the call
      // fails like any other instead of throwing into its caller.
      return { kind: 'unavailable', reason: 'unserializable', detail: String(error) };
    }
    const started = performance.now();
    const outcome = await this.send(route, body, browser, signal);
    this.options.metrics.odooCallSeconds
      .labels(route)
      .observe((performance.now() - started) / 1000);
    this.options.metrics.odooCalls
      .labels(route, outcome.kind === 'unavailable' ? outcome.reason : outcome.kind)
      .inc();
    return outcome;
  }

  /** Asks the addon's info route for Odoo's version. */
  async info(secret: string): Promise<InfoOutcome> {
    try {
      const response = await this.limiter.run(() =>
        request(`${this.origin}${INFO_ROUTE}`, {
          method: 'GET',
          dispatcher: this.agent,
          headers: { [SECRET_HEADER]: secret, accept: 'application/json' },
          signal: AbortSignal.timeout(this.options.timeoutMs),
        }),
      );
      const text = await readText(response.body, this.options.maxAnswerBytes);
      if (response.statusCode === 404) return { kind: 'notFound' };
      if (response.statusCode === 403) {
        return { kind: 'refused', notConfigured: text.includes('secret_not_configured') };
      }
      if (response.statusCode !== 200) {
        return { kind: 'unavailable', detail: `HTTP ${response.statusCode}` };
      }
      const data = JSON.parse(text) as Record<string, unknown>;
      const versionInfo = Array.isArray(data.server_version_info) ? data.server_version_info : [];
      const major =
        typeof versionInfo[0] === 'number' ? versionInfo[0] : parseMajor(data.server_version);
      const info: OdooInfo = {
        serverVersion: typeof data.server_version === 'string' ? data.server_version : undefined,
        major,
        workerVersion:
          typeof data.websocket_worker_version === 'string' ? data.websocket_worker_version : null,
        features: Array.isArray(data.features)
          ? data.features.filter((f): f is string => typeof f === 'string')
          : [],
      };
      return { kind: 'info', info };
    } catch (error) {
      const failure = classifyFailure(error);
      return {
        kind: 'unavailable',
        detail: failure.kind === 'unavailable' ? `${failure.reason}: ${failure.detail}` : 'error',
      };
    }
  }

  /**
   * Odoo's own `/web/webclient/version_info` (JSON-RPC, `auth='none'`: no session, no database,
   * served by every version from 12 to 19): `{"server_version", "server_version_info", ...}`.
   * Tells the major version without the addon; not the websocket worker version.
   */
  async versionInfo(): Promise<InfoOutcome> {
    const browser: BrowserContext = {
      cookie: '',
      host: undefined,
      forwardedFor: undefined,
      forwardedHost: undefined,
      forwardedProto: undefined,
      userAgent: undefined,
    };
    const outcome = await this.rpc(VERSION_INFO_ROUTE, {}, browser);
    if (outcome.kind === 'notFound') return { kind: 'notFound' };
    if (outcome.kind === 'unavailable') {
      return { kind: 'unavailable', detail: `${outcome.reason}: ${outcome.detail}` };
    }
    if (outcome.kind !== 'result') {
      return { kind: 'unavailable', detail: `${outcome.kind} from ${VERSION_INFO_ROUTE}` };
    }
    try {
      const data = JSON.parse(outcome.text).result as Record<string, unknown> | null;
      const versionInfo = Array.isArray(data?.server_version_info) ? data.server_version_info : [];
      const info: OdooInfo = {
        serverVersion: typeof data?.server_version === 'string' ? data.server_version : undefined,
        major:
          typeof versionInfo[0] === 'number' ? versionInfo[0] : parseMajor(data?.server_version),
        workerVersion: null,
        features: [],
      };
      return { kind: 'info', info };
    } catch {
      return { kind: 'unavailable', detail: `unreadable answer of ${VERSION_INFO_ROUTE}` };
    }
  }

  /** Raw request for forwarded routes; the caller streams the answer back. */
  forward(options: {
    path: string;
    method: Dispatcher.HttpMethod;
    headers: Record<string, string>;
    body?: Buffer;
  }) {
    return this.limiter.run(() =>
      request(`${this.origin}${options.path}`, {
        method: options.method,
        headers: options.headers,
        body: options.body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      }),
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    route: string,
    body: string,
    browser: BrowserContext,
    signal: AbortSignal | undefined,
  ): Promise<RpcOutcome> {
    let status: number;
    let text: string;
    let setCookie: string | string[] | undefined;
    try {
      ({ status, text, setCookie } = await this.limiter.run(async () => {
        const headers = browserHeaders(browser);
        if (this.options.secret !== undefined)
          headers[SECRET_HEADER.toLowerCase()] = this.options.secret;
        const response = await request(`${this.origin}${route}`, {
          method: 'POST',
          dispatcher: this.agent,
          headers,
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        return {
          status: response.statusCode,
          text: await readText(response.body, this.options.maxAnswerBytes),
          setCookie: response.headers['set-cookie'],
        };
      }, signal));
    } catch (error) {
      return classifyFailure(error);
    }
    const issued = sessionSetCookie(setCookie);
    const newSessionId = issued?.sessionId;
    const sessionCookie = issued?.header;
    const cookies =
      setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
    if (status === 404) return { kind: 'notFound' };
    if (status !== 200) return { kind: 'unavailable', reason: 'http', detail: `HTTP ${status}` };
    let root: JsonNode;
    try {
      root = parseJson(text);
    } catch {
      return { kind: 'unavailable', reason: 'badResponse', detail: 'answer is not JSON' };
    }
    const error = member(root, 'error');
    if (error) {
      const data = member(error, 'data');
      const nameNode = member(data, 'name');
      const messageNode = member(error, 'message');
      const code = safeInteger(member(error, 'code'), text);
      const name = nameNode?.kind === 'string' ? nameNode.value : undefined;
      if (name === SESSION_EXPIRED || code === 100) {
        return { kind: 'sessionExpired', newSessionId, text, setCookie: cookies, sessionCookie };
      }
      return {
        kind: 'rpcError',
        code,
        name,
        message: messageNode?.kind === 'string' ? messageNode.value : 'Odoo error',
        text,
        setCookie: cookies,
      };
    }
    if (root.kind !== 'object') {
      return {
        kind: 'unavailable',
        reason: 'badResponse',
        detail: 'answer is not a JSON-RPC envelope',
      };
    }
    // Odoo 19 omits `result` when a route returns None (/websocket/on_closed).
    const result = member(root, 'result') ?? { kind: 'literal', start: 0, end: 0, value: null };
    return { kind: 'result', text, result, newSessionId, setCookie: cookies, sessionCookie };
  }
}

class BadResponse extends Error {}

/** The whole body as UTF-8 text, refused (and the connection dropped) once it passes `max`. */
async function readText(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length;
    if (bytes > max) {
      body.destroy();
      throw new BadResponse(`answer over ${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, bytes).toString('utf8');
}

function classifyFailure(error: unknown): RpcOutcome {
  if (error instanceof CallAbandonedError)
    return { kind: 'unavailable', reason: 'abandoned', detail: error.message };
  if (error instanceof QueueFullError)
    return { kind: 'unavailable', reason: 'queueFull', detail: error.message };
  if (error instanceof BadResponse)
    return { kind: 'unavailable', reason: 'badResponse', detail: error.message };
  const err = error as { name?: string; code?: string; message?: string };
  if (
    err.name === 'TimeoutError' ||
    err.name === 'AbortError' ||
    err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err.code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return { kind: 'unavailable', reason: 'timeout', detail: err.message ?? 'timeout' };
  }
  return {
    kind: 'unavailable',
    reason: 'connect',
    detail: err.code ?? err.message ?? String(error),
  };
}

export function browserHeaders(browser: BrowserContext): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
  };
  if (browser.cookie) headers.cookie = browser.cookie;
  // The browser's Host keeps Odoo's host-based dbfilter working even without proxy_mode.
  if (browser.host) headers.host = browser.host;
  if (browser.forwardedFor) headers['x-forwarded-for'] = browser.forwardedFor;
  if (browser.forwardedHost) headers['x-forwarded-host'] = browser.forwardedHost;
  if (browser.forwardedProto) headers['x-forwarded-proto'] = browser.forwardedProto;
  if (browser.userAgent) headers['user-agent'] = browser.userAgent;
  return headers;
}

function parseMajor(version: unknown): number | undefined {
  if (typeof version !== 'string') return undefined;
  const match = /^(?:saas~)?(\d+)/.exec(version);
  return match ? Number(match[1]) : undefined;
}
