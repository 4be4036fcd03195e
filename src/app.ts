/**
 * The HTTP side of the sidecar as a fastify instance that never listens by itself (tests call
 * `inject` or listen on port 0): Odoo's `/websocket/health`, the plain-GET answer of `/websocket`,
 * health, readiness, metrics, and forwarding of Odoo's other bus routes. Whatever goes wrong with a
 * request (a body over the limit, an unreadable target, a fault of ours) is answered with
 * werkzeug's page for it, as Odoo would answer.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Readiness } from './observability/health.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import { clientIdentity } from './transports/clientIdentity.js';
import {
  BAD_REQUEST_PAGE,
  NOT_FOUND_PAGE,
  SERVER_ERROR_PAGE,
  sendPage,
  TOO_LARGE_PAGE,
} from './transports/errorPages.js';
import { type Forwarding, registerForwarding } from './transports/forward.js';

export interface AppOptions {
  logger: Logger;
  metrics: Metrics;
  forwarding: Forwarding;
  /** Largest request body read; past it, werkzeug's 413. */
  maxRequestBodyBytes: number;
  readiness: () => Readiness;
  /** Extra routes (long polling) registered before the forwarding catch-all. */
  plugins?: Array<(app: FastifyInstance) => void>;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { metrics, forwarding } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request lines would drown the bus's own logs (probes, metrics scrapes).
    logController: new LogController({ disableRequestLogging: true }),
    // Forwarding headers are judged in one place (`clientIdentity`), never by fastify.
    trustProxy: false,
    bodyLimit: options.maxRequestBodyBytes,
    // A target the router cannot decode (`%zz`): werkzeug's 400, like any bad request.
    frameworkErrors: (_error, request, reply) => refused(request, reply, 'bad-target', 400),
  });

  function refused(
    request: FastifyRequest,
    reply: FastifyReply,
    reason: 'bad-target' | 'body-too-large' | 'bad-request',
    status: number,
  ): FastifyReply {
    metrics.httpRefused.labels(reason).inc();
    const ip = clientIdentity(request.raw, forwarding.proxyTrust).address;
    forwarding.logLimiter.log('http-refused', ip, (note) =>
      request.log.info(
        { reason, status, method: request.method, path: request.url, ip, ...note },
        'request refused',
      ),
    );
    return sendPage(reply, status, status === 413 ? TOO_LARGE_PAGE : BAD_REQUEST_PAGE);
  }

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 413) return refused(request, reply, 'body-too-large', 413);
    if (status >= 400 && status < 500) return refused(request, reply, 'bad-request', 400);
    forwarding.caught('http', error);
    return sendPage(reply, 500, SERVER_ERROR_PAGE);
  });
  app.setNotFoundHandler((_request, reply) => sendPage(reply, 404, NOT_FOUND_PAGE));

  // Same answer as Odoo's evented server, so existing monitoring keeps working.
  app.get('/websocket/health', async (_request, reply) =>
    reply.header('Cache-Control', 'no-store').type('application/json').send('{"status": "pass"}'),
  );

  // A GET without upgrade headers never reaches Odoo's websocket route: werkzeug's generic 400.
  app.all('/websocket', async (_request, reply) => sendPage(reply, 400, BAD_REQUEST_PAGE));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = options.readiness();
    return reply.code(state.ready ? 200 : 503).send(state);
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  for (const plugin of options.plugins ?? []) plugin(app);
  registerForwarding(app, forwarding, ['/websocket', '/longpolling']);
  return app;
}
