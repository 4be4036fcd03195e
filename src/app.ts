/**
 * The HTTP side of the sidecar as a fastify instance that never listens by itself (tests call
 * `inject` or listen on port 0): Odoo's `/websocket/health`, the plain-GET answer of `/websocket`,
 * health, readiness, metrics, and forwarding of the other bus routes to Odoo.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Readiness } from './observability/health.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import type { OdooClient } from './odoo/client.js';
import type { ProxyTrust } from './transports/clientIdentity.js';
import { registerForwarding } from './transports/forward.js';
import { GENERIC_BAD_REQUEST, werkzeugErrorPage } from './transports/websocket/handshake.js';

export interface AppOptions {
  logger: Logger;
  metrics: Metrics;
  odoo: OdooClient;
  proxyTrust: ProxyTrust;
  readiness: () => Readiness;
  /** Extra routes (long polling) registered before the forwarding catch-all. */
  plugins?: Array<(app: FastifyInstance) => void>;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request lines would drown the bus's own logs (probes, metrics scrapes).
    logController: new LogController({ disableRequestLogging: true }),
    // Forwarding headers are judged in one place (`clientIdentity`), never by fastify.
    trustProxy: false,
    bodyLimit: 2 * 1024 * 1024,
  });

  // Same answer as Odoo's evented server, so existing monitoring keeps working.
  app.get('/websocket/health', async (_request, reply) =>
    reply.header('Cache-Control', 'no-store').type('application/json').send('{"status": "pass"}'),
  );

  // A GET without upgrade headers never reaches Odoo's websocket route: werkzeug's generic 400.
  app.all('/websocket', async (_request, reply) =>
    reply
      .code(400)
      .type('text/html; charset=utf-8')
      .send(werkzeugErrorPage(400, 'Bad Request', GENERIC_BAD_REQUEST)),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = options.readiness();
    return reply.code(state.ready ? 200 : 503).send(state);
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics()),
  );

  for (const plugin of options.plugins ?? []) plugin(app);
  registerForwarding(app, options.odoo, ['/websocket', '/longpolling'], options.proxyTrust);
  return app;
}
