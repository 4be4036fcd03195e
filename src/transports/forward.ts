/**
 * Odoo's own routes under `/websocket/` and `/longpolling/` (`busRoutes.ts`) that the sidecar does
 * not serve itself go on to Odoo's HTTP workers: the standard proxy configuration sends both
 * prefixes to the bus port, and they must keep working. Nothing else is forwarded.
 *
 * - The target is read once (`requestTarget.ts`), decoded and normalised as the next hop's URL
 *   parser would; a path that is not one of Odoo's bus routes gets werkzeug's 404 here. What goes
 *   to Odoo is the route's own name and the query as sent, never the browser's spelling of it.
 * - Headers: end-to-end ones only. Hop-by-hop headers, the headers the browser's `Connection`
 *   names, and the addon's shared-secret header (only the sidecar sends it, on its own calls) stay
 *   here.
 * - The body was read within `maxRequestBodyBytes` (`app.ts` answers 413 past it).
 * - The answer is streamed back as it comes, never held whole: one that announces more than
 *   `maxOdooAnswerBytes` gets 502, one that streams past it is cut.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { CaughtErrors } from '../observability/caught.js';
import type { LogLimiter } from '../observability/logLimiter.js';
import type { Metrics } from '../observability/metrics.js';
import { SECRET_HEADER } from '../odoo/addonContract.js';
import type { OdooClient } from '../odoo/client.js';
import { sessionIdFromCookie } from '../odoo/cookies.js';
import { CallAbandonedError, QueueFullError } from '../odoo/limiter.js';
import { busRoutesOf } from './busRoutes.js';
import { addressGroup } from './clientAddress.js';
import {
  CLIENT_IDENTITY_HEADERS,
  clientIdentity,
  identityHeaders,
  type ProxyTrust,
} from './clientIdentity.js';
import type { TransportDependencies } from './dependencies.js';
import {
  BAD_GATEWAY_PAGE,
  BAD_REQUEST_PAGE,
  NOT_FOUND_PAGE,
  SERVICE_UNAVAILABLE_PAGE,
  sendPage,
} from './errorPages.js';
import { normalisedPath, readTarget } from './requestTarget.js';

/** Headers of one connection, never of the request (RFC 9110 7.6.1, and their old spellings). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);
/** Also left out of a forwarded request: undici sets its own, or refuses them. */
const REQUEST_ONLY = new Set(['content-length', 'expect']);
const SECRET = SECRET_HEADER.toLowerCase();

export interface Forwarding {
  odoo: OdooClient;
  /** Whose forwarding headers are believed (see `clientIdentity`). */
  proxyTrust: ProxyTrust;
  odooMajor: () => number | undefined;
  maxAnswerBytes: number;
  metrics: Metrics;
  logLimiter: LogLimiter;
  caught: CaughtErrors;
}

export function forwardingOf(deps: TransportDependencies): Forwarding {
  return {
    odoo: deps.odoo,
    proxyTrust: deps.proxyTrust,
    odooMajor: deps.odooMajor,
    maxAnswerBytes: deps.config.maxOdooAnswerBytes,
    metrics: deps.metrics,
    logLimiter: deps.logLimiter,
    caught: deps.caught,
  };
}

export function registerForwarding(
  app: FastifyInstance,
  forwarding: Forwarding,
  prefixes: readonly string[],
): void {
  void app.register((scope, _options, done) => {
    // Bodies pass through as bytes, whatever their type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    const handler = (request: FastifyRequest, reply: FastifyReply) =>
      forward(request, reply, forwarding);
    for (const prefix of prefixes) {
      scope.all(`${prefix}/*`, handler);
    }
    done();
  });
}

/** The names a `Connection` header lists (lower case). */
function connectionNamed(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
}

function requestHeaders(request: FastifyRequest): Record<string, string> {
  const named = connectionNamed(request.headers.connection);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || REQUEST_ONLY.has(name)) continue;
    if (name === SECRET || named.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function answerHeaders(
  headers: Dispatcher.ResponseData['headers'],
): Record<string, string | string[]> {
  const named = connectionNamed(headers.connection);
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    kept[name] = value;
  }
  return kept;
}

class AnswerTooLarge extends Error {}

/** Passes bytes on until `max`, then fails (which cuts the answer). */
function capped(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) callback(new AnswerTooLarge(`answer over ${max} bytes`));
      else callback(null, chunk);
    },
  });
}

function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  forwarding: Forwarding,
  reason: 'bad-target' | 'not-a-bus-route' | 'answer-too-large',
  status: number,
  page: string,
): FastifyReply {
  forwarding.metrics.httpRefused.labels(reason).inc();
  const ip = clientIdentity(request.raw, forwarding.proxyTrust).address;
  forwarding.logLimiter.log('http-refused', ip, (note) =>
    request.log.info(
      { reason, status, method: request.method, path: request.url, ip, ...note },
      'bus path not forwarded to Odoo',
    ),
  );
  return sendPage(reply, status, page);
}

/** Sends one request on to Odoo and its answer back (long polling hands some polls on too). */
export async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  forwarding: Forwarding,
): Promise<FastifyReply> {
  const target = readTarget(request.url);
  if (target === undefined) {
    return refuse(request, reply, forwarding, 'bad-target', 400, BAD_REQUEST_PAGE);
  }
  const route = normalisedPath(target.path);
  if (!busRoutesOf(forwarding.odooMajor()).has(route)) {
    return refuse(request, reply, forwarding, 'not-a-bus-route', 404, NOT_FOUND_PAGE);
  }
  const headers = requestHeaders(request);
  // Who the client is, as the sidecar believes it: never the client's own forwarding headers.
  for (const name of CLIENT_IDENTITY_HEADERS) delete headers[name];
  const identity = clientIdentity(request.raw, forwarding.proxyTrust);
  Object.assign(headers, identityHeaders(identity));
  const body = Buffer.isBuffer(request.body) ? request.body : undefined;
  // A browser that goes away while its request waits for a slot leaves the queue.
  const gone = new AbortController();
  reply.raw.once('close', () => gone.abort());
  const client = {
    address: addressGroup(identity.address),
    session: sessionIdFromCookie(headers.cookie) ?? '',
  };
  let answer: Dispatcher.ResponseData;
  try {
    answer = await forwarding.odoo.forward({
      path: target.query === '' ? route : `${route}?${target.query}`,
      method: request.method as Dispatcher.HttpMethod,
      headers,
      body,
      client,
      signal: gone.signal,
    });
  } catch (error) {
    // Too many requests of this client, or of all, wait for Odoo: werkzeug's 503, retried later.
    if (error instanceof QueueFullError) return sendPage(reply, 503, SERVICE_UNAVAILABLE_PAGE);
    // The browser left while its request waited: nobody to answer.
    if (error instanceof CallAbandonedError) return reply;
    forwarding.logLimiter.log('forward-failed', undefined, (note) =>
      request.log.warn({ err: error, path: route, ...note }, 'forwarding to Odoo failed'),
    );
    return sendPage(reply, 502, BAD_GATEWAY_PAGE);
  }
  const announced = Number(answer.headers['content-length']);
  if (announced > forwarding.maxAnswerBytes) {
    answer.body.destroy();
    return refuse(request, reply, forwarding, 'answer-too-large', 502, BAD_GATEWAY_PAGE);
  }
  // From here the answer is written as it arrives, outside fastify's reply.
  reply.hijack();
  reply.raw.writeHead(answer.statusCode, answerHeaders(answer.headers));
  try {
    await pipeline(answer.body, capped(forwarding.maxAnswerBytes), reply.raw);
  } catch (error) {
    if (error instanceof AnswerTooLarge) {
      forwarding.metrics.httpRefused.labels('answer-too-large').inc();
      forwarding.logLimiter.log('forward-cut', undefined, (note) =>
        request.log.warn(
          { path: route, maxBytes: forwarding.maxAnswerBytes, ...note },
          "Odoo's answer passed the size limit: cut",
        ),
      );
    }
    // Otherwise the browser went away, or Odoo stopped mid-answer: the connection is cut either
    // way, which is all the browser can be told once the answer has started.
  }
  return reply;
}
