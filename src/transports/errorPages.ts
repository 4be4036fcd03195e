/**
 * The HTML pages Odoo's werkzeug answers with, for the requests the sidecar answers itself on the
 * bus paths and for the websocket handshakes it refuses: clients and monitoring see what Odoo
 * would have sent.
 */
import type { FastifyReply } from 'fastify';

/** The HTML body werkzeug renders for an HTTPException. */
export function werkzeugErrorPage(status: number, title: string, description: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${description}</p>\n`;
}

export const GENERIC_BAD_REQUEST =
  'The browser (or proxy) sent a request that this server could not understand.';
export const NOT_FOUND_DESCRIPTION =
  'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';

export const BAD_REQUEST_PAGE = werkzeugErrorPage(400, 'Bad Request', GENERIC_BAD_REQUEST);
export const NOT_FOUND_PAGE = werkzeugErrorPage(404, 'Not Found', NOT_FOUND_DESCRIPTION);
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
