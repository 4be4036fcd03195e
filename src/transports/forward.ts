/**
 * Every `/websocket/*` and `/longpolling/*` path the sidecar does not serve itself goes on to Odoo's
 * HTTP workers unchanged: the standard proxy configuration sends the whole prefix to port 8072, and
 * Odoo's routes there (`/websocket/peek_notifications`, `/longpolling/im_status`, ...) must keep
 * working.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { OdooClient } from '../odoo/client.js';
import {
  CLIENT_IDENTITY_HEADERS,
  clientIdentity,
  identityHeaders,
  type ProxyTrust,
} from './clientIdentity.js';

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
  proxyTrust: ProxyTrust,
): void {
  void app.register((scope, _options, done) => {
    // Bodies pass through as bytes, whatever their type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    const handler = (request: FastifyRequest, reply: FastifyReply) =>
      forward(request, reply, odoo, proxyTrust);
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
  proxyTrust: ProxyTrust,
) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // Who the client is, as the sidecar believes it: never the client's own forwarding headers.
  for (const name of CLIENT_IDENTITY_HEADERS) delete headers[name];
  Object.assign(headers, identityHeaders(clientIdentity(request.raw, proxyTrust)));
  const body = Buffer.isBuffer(request.body) ? request.body : undefined;
  try {
    const answer = await odoo.forward({
      path: request.url,
      method: request.method as Dispatcher.HttpMethod,
      headers,
      body,
    });
    reply.code(answer.statusCode);
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
    }
    return reply.send(Buffer.from(await answer.body.arrayBuffer()));
  } catch (error) {
    request.log.warn({ err: error, path: request.url.slice(0, 200) }, 'forwarding to Odoo failed');
    return reply
      .code(502)
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html>\n<html lang=en>\n<title>502 Bad Gateway</title>\n<h1>Bad Gateway</h1>\n<p>Odoo did not answer.</p>\n',
      );
  }
}
