/**
 * The HTML pages Odoo's werkzeug answers with, for the requests the sidecar answers itself on the
 * bus paths: clients and monitoring see what Odoo would have sent.
 */
import type { FastifyReply } from 'fastify';
import { GENERIC_BAD_REQUEST, notFound, werkzeugErrorPage } from './websocket/handshake.js';

export const BAD_REQUEST_PAGE = werkzeugErrorPage(400, 'Bad Request', GENERIC_BAD_REQUEST);
export const NOT_FOUND_PAGE = notFound().body;
/** werkzeug's `RequestEntityTooLarge`. */
export const TOO_LARGE_PAGE = werkzeugErrorPage(
  413,
  'Request Entity Too Large',
  'The data value transmitted exceeds the capacity limit.',
);
export const SERVER_ERROR_PAGE = werkzeugErrorPage(
  500,
  'Internal Server Error',
  'The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.',
);
/** The sidecar's own: Odoo did not answer, or answered more than the sidecar passes on. */
export const BAD_GATEWAY_PAGE = werkzeugErrorPage(502, 'Bad Gateway', 'Odoo did not answer.');

/** werkzeug's `ServiceUnavailable`: too many requests of this client, or of all, wait for Odoo. */
export const SERVICE_UNAVAILABLE_PAGE = werkzeugErrorPage(
  503,
  'Service Unavailable',
  'Too many requests wait for Odoo; try again later.',
);

export function sendPage(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}
