/**
 * Every `/websocket/*` and `/longpolling/*` path the sidecar does not serve itself goes on to Odoo's
 * HTTP workers unchanged: the standard proxy configuration sends the whole prefix to port 8072, and
 * Odoo's routes there (`/websocket/peek_notifications`, `/longpolling/im_status`, ...) must keep
 * working.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { OdooClient } from '../odoo/client.js';
import { sessionIdFromCookie } from '../odoo/cookies.js';
import { CallAbandonedError, QueueFullError } from '../odoo/limiter.js';
import { clientAddress } from './clientAddress.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

export function registerForwarding(
  app: FastifyInstance,
  odoo: OdooClient,
  prefixes: readonly string[],
  proxyMode: boolean,
): void {
  void app.register((scope, _options, done) => {
    // Bodies pass through as bytes, whatever their type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    const handler = (request: FastifyRequest, reply: FastifyReply) =>
      forward(request, reply, odoo, proxyMode);
    for (const prefix of prefixes) {
      scope.all(`${prefix}/*`, handler);
    }
    done();
  });
}

/** Sends one request on to Odoo and its answer back (long polling hands some polls on too). */
export async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  odoo: OdooClient,
  proxyMode: boolean,
) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (!proxyMode || headers['x-forwarded-for'] === undefined)
    headers['x-forwarded-for'] = request.ip;
  headers['x-forwarded-host'] ??= request.headers.host ?? '';
  headers['x-forwarded-proto'] ??= request.protocol;
  const body = Buffer.isBuffer(request.body) ? request.body : undefined;
  // A browser that goes away while its request waits for a slot leaves the queue.
  const gone = new AbortController();
  reply.raw.once('close', () => gone.abort());
  const client = {
    address: clientAddress(request.raw, proxyMode),
    session: sessionIdFromCookie(headers.cookie) ?? '',
  };
  try {
    const answer = await odoo.forward({
      path: request.url,
      method: request.method as Dispatcher.HttpMethod,
      headers,
      body,
      client,
      signal: gone.signal,
    });
    reply.code(answer.statusCode);
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
    }
    return reply.send(Buffer.from(await answer.body.arrayBuffer()));
  } catch (error) {
    if (error instanceof QueueFullError) {
      // Too many requests of this client, or of all, wait for Odoo: werkzeug's 503, retried later.
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html>\n<html lang=en>\n<title>503 Service Unavailable</title>\n<h1>Service Unavailable</h1>\n<p>Too many requests wait for Odoo; try again later.</p>\n',
        );
    }
    // The browser left while its request waited: nobody to answer.
    if (error instanceof CallAbandonedError) return reply;
    request.log.warn({ err: error, path: request.url.slice(0, 200) }, 'forwarding to Odoo failed');
    return reply
      .code(502)
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html>\n<html lang=en>\n<title>502 Bad Gateway</title>\n<h1>Bad Gateway</h1>\n<p>Odoo did not answer.</p>\n',
      );
  }
}
