/**
 * HTTP client to Odoo's workers: the JSON-RPC routes Odoo ships for external websocket servers
 * (`/websocket/peek_notifications`, `/websocket/update_bus_presence`, `/websocket/on_closed`), the
 * addon's info route, and plain forwarding. The sidecar's own calls and the browsers' forwarded
 * requests each go through their own fair `Limiter` (slots, places, shares per client, a deadline
 * for waiting), so a flood of one kind never holds up the other; every call has a time limit, and
 * answers are read up to a size bound and parsed in slices. The outcome is classified once here so
 * transports only decide what the client sees.
 */
import { Agent, type Dispatcher, request } from 'undici';
import type { JsonNode } from '../json/rawJson.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { REQUEST_ID_HEADER } from '../observability/requestId.js';
import { INFO_ROUTE, SECRET_HEADER } from './addonContract.js';
import { readBoundedBody } from './boundedBody.js';
import type { QueueLimits } from './callBudget.js';
import { sessionIdFromCookie } from './cookies.js';
import { majorOf } from './generations.js';
import { type CallKey, Limiter } from './limiter.js';
import { BadResponse, classifyFailure, readRpcAnswer } from './rpcAnswer.js';
import { SharedCalls, sharedCallKey } from './sharedCalls.js';

type Gauge = Metrics['odooInFlight'];

/** Headers describing the browser's request, forwarded so that Odoo sees the same client. */
export interface BrowserContext {
  /** The client's address (`clientAddress`): whose share of the calls to Odoo a call takes. */
  address: string;
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
      /**
       * Set when the answer was larger than `maxAnswerBytes` and only its beginning was read: the
       * objects and arrays cut short (see `parseJsonInSlices`). Undefined for a whole answer.
       */
      cut: ReadonlySet<JsonNode> | undefined;
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
  /** The sidecar's own calls: authorizations (peek, poll), presence, disconnects, re-checks. */
  calls: QueueLimits;
  /** Browser requests handed on to Odoo (`/websocket/*`, `/longpolling/*` routes not served here). */
  forwarding: QueueLimits;
  timeoutMs: number;
  /** Bytes of one answer read at most; the rest is left unread (see `RpcOutcome.cut`). */
  maxAnswerBytes: number;
  /**
   * The addon's shared secret: sent on the calls made for browsers too, so that Odoo (with the
   * addon) knows them from the browser's own requests (it does not rotate sessions for them).
   */
  secret?: string | undefined;
  logger: Logger;
  metrics: Metrics;
}

const VERSION_INFO_ROUTE = '/web/webclient/version_info';
const ABANDONED: RpcOutcome = { kind: 'unavailable', reason: 'abandoned', detail: 'client left' };
/** The sidecar's own calls that no browser asked for (version info): a client of their own. */
const SIDECAR_KEY: CallKey = { address: '(sidecar)', session: '' };

export class OdooClient {
  /** The sidecar's own calls. */
  readonly limiter: Limiter;
  /** Forwarded browser requests. */
  readonly forwarding: Limiter;
  private readonly agent: Agent;
  private readonly origin: string;
  private rpcId = 0;
  /** Identical calls of one session in flight share one call (see `sharedCallKey`). */
  readonly shared = new SharedCalls<RpcOutcome>();

  constructor(private readonly options: OdooClientOptions) {
    this.origin = new URL(options.baseUrl).origin;
    const { calls, forwarding, metrics } = options;
    this.agent = new Agent({
      connections: (calls.slots + forwarding.slots) * 2,
      keepAliveTimeout: 4_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: Math.min(options.timeoutMs, 5_000) },
    });
    const queue = (
      limits: QueueLimits,
      name: 'calls' | 'forwarding',
      inFlight: Gauge,
      queued: Gauge,
    ) =>
      new Limiter({
        ...limits,
        onChange: (active, waiting) => {
          inFlight.set(active);
          queued.set(waiting);
        },
        onRefused: (refusal) => metrics.odooQueueRefused.labels(name, refusal).inc(),
      });
    this.limiter = queue(calls, 'calls', metrics.odooInFlight, metrics.odooQueued);
    this.forwarding = queue(
      forwarding,
      'forwarding',
      metrics.forwardInFlight,
      metrics.forwardQueued,
    );
  }

  /**
   * Calls a JSON-RPC route of Odoo on behalf of a browser, in the share of its address and
   * session; `signal` aborts when the browser is gone (the call then leaves the queue);
   * `requestId` (the socket's or the poll's) goes along as `X-Request-Id`.
   */
  async rpc(
    route: string,
    params: Record<string, unknown>,
    browser: BrowserContext,
    signal?: AbortSignal,
    requestId?: string,
  ): Promise<RpcOutcome> {
    const key = sharedCallKey(route, params, browser);
    if (key !== undefined) {
      const joinedBefore = this.shared.joined;
      const outcome = this.shared.run(
        key,
        signal,
        (own) => this.call(route, params, browser, own, requestId),
        () => ABANDONED,
      );
      // `run` joins an identical call synchronously: a call Odoo was spared.
      if (this.shared.joined > joinedBefore)
        this.options.metrics.odooCallsShared.labels(route).inc();
      return outcome;
    }
    return this.call(route, params, browser, signal, requestId);
  }

  private async call(
    route: string,
    params: Record<string, unknown>,
    browser: BrowserContext,
    signal: AbortSignal | undefined,
    requestId: string | undefined,
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
    const key = { address: browser.address, session: sessionIdFromCookie(browser.cookie) ?? '' };
    const outcome = await this.send(route, body, browser, key, signal, requestId);
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
      const { status, text } = await this.limiter.run(async () => {
        const response = await request(`${this.origin}${INFO_ROUTE}`, {
          method: 'GET',
          dispatcher: this.agent,
          headers: { [SECRET_HEADER]: secret, accept: 'application/json' },
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        const answer = await readBoundedBody(response.body, this.options.maxAnswerBytes);
        if (answer.truncated) throw new BadResponse('answer larger than maxAnswerBytes');
        return { status: response.statusCode, text: answer.text };
      }, SIDECAR_KEY);
      if (status === 404) return { kind: 'notFound' };
      if (status === 403) {
        return { kind: 'refused', notConfigured: text.includes('secret_not_configured') };
      }
      if (status !== 200) return { kind: 'unavailable', detail: `HTTP ${status}` };
      const data = JSON.parse(text) as Record<string, unknown>;
      const info: OdooInfo = {
        ...versionOf(data),
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
      address: SIDECAR_KEY.address,
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
      const info: OdooInfo = {
        ...versionOf(data),
        workerVersion: null,
        features: [],
      };
      return { kind: 'info', info };
    } catch {
      return { kind: 'unavailable', detail: `unreadable answer of ${VERSION_INFO_ROUTE}` };
    }
  }

  /**
   * Raw request for forwarded routes, in the forwarding queue's share of `client`; the caller
   * streams the answer back. `signal` aborts when the browser's request is gone.
   */
  forward(options: {
    path: string;
    method: Dispatcher.HttpMethod;
    headers: Record<string, string>;
    body?: Buffer;
    client: CallKey;
    signal?: AbortSignal;
  }) {
    return this.forwarding.run(
      () =>
        request(`${this.origin}${options.path}`, {
          method: options.method,
          headers: options.headers,
          body: options.body,
          dispatcher: this.agent,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        }),
      options.client,
      options.signal,
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    route: string,
    body: string,
    browser: BrowserContext,
    key: CallKey,
    signal: AbortSignal | undefined,
    requestId: string | undefined,
  ): Promise<RpcOutcome> {
    let status: number;
    let text: string;
    let truncated: boolean;
    let setCookie: string | string[] | undefined;
    try {
      ({ status, text, truncated, setCookie } = await this.limiter.run(
        async () => {
          const headers = browserHeaders(browser);
          if (this.options.secret !== undefined)
            headers[SECRET_HEADER.toLowerCase()] = this.options.secret;
          if (requestId !== undefined) headers[REQUEST_ID_HEADER] = requestId;
          const response = await request(`${this.origin}${route}`, {
            method: 'POST',
            dispatcher: this.agent,
            headers,
            body,
            signal: AbortSignal.timeout(this.options.timeoutMs),
          });
          // Read while the slot is held: Odoo's worker is busy until it has sent its answer.
          const answer = await readBoundedBody(response.body, this.options.maxAnswerBytes);
          return {
            status: response.statusCode,
            text: answer.text,
            truncated: answer.truncated,
            setCookie: response.headers['set-cookie'],
          };
        },
        key,
        signal,
      ));
    } catch (error) {
      return classifyFailure(error);
    }
    if (truncated) this.options.metrics.odooAnswersCut.labels(route).inc();
    return readRpcAnswer({ status, text, truncated, setCookie });
  }
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

/** `server_version` and its major, as both the addon's info route and `version_info` answer them. */
function versionOf(
  data: Record<string, unknown> | null,
): Pick<OdooInfo, 'serverVersion' | 'major'> {
  const serverVersion = data?.server_version;
  return {
    serverVersion: typeof serverVersion === 'string' ? serverVersion : undefined,
    major: majorOf(data?.server_version_info, serverVersion),
  };
}
