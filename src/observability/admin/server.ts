/**
 * The admin port (`adminHost:adminPort`, loopback by default): what operators and their tools
 * read, kept off the public port that browsers reach through the proxy.
 *
 * - `/healthz`: liveness (the process answers);
 * - `/readyz`: readiness, 200 or 503 with the checks (see `health.ts`);
 * - `/metrics`: Prometheus text;
 * - `/status`: one self-contained HTML page (its script and style inline, allowed by hash in its
 *   Content-Security-Policy, nothing loaded from elsewhere) plotting `/status.json` every second;
 * - `/status.json`: the page's data (`?since=<ms>`: only the samples taken after).
 *
 * Where the answers come from is the `AdminSource`: one sidecar, or the primary of a cluster
 * asking its workers (`cluster.ts`).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../logger.js';
import type { StatusDocument } from '../status/document.js';
import { STATUS_PAGE } from '../status/page.js';
import { CHALLENGE, permits, type StatusAccess } from './access.js';

/** Readiness as `/readyz` answers it: `ready`, and whatever details its source gives. */
export interface ReadinessAnswer {
  ready: boolean;
}

export interface AdminSource {
  readiness(): Promise<ReadinessAnswer>;
  metrics(): Promise<{ contentType: string; text: string }>;
  status(since: number | undefined): Promise<StatusDocument>;
}

export interface AdminServerOptions {
  logger: Logger;
  source: AdminSource;
  access: StatusAccess;
}

const NO_STORE = 'no-store';

export function buildAdminApp(options: AdminServerOptions): FastifyInstance {
  const { source, access } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ component: 'admin' }) as FastifyBaseLogger,
    // Probes and scrapes every few seconds: no line per request.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.get('/healthz', async (_request, reply) =>
    reply.header('cache-control', NO_STORE).send({ status: 'ok' }),
  );
  app.get('/readyz', async (_request, reply) => {
    const state = await source.readiness();
    return reply
      .code(state.ready ? 200 : 503)
      .header('cache-control', NO_STORE)
      .send(state);
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await source.metrics();
    return reply.type(contentType).header('cache-control', NO_STORE).send(text);
  });

  // The status page and its data, behind `statusAuth`.
  void app.register((scope, _options, done) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (permits(access, request.headers)) return;
      return reply
        .code(401)
        .header('www-authenticate', CHALLENGE)
        .header('cache-control', NO_STORE)
        .type('text/plain; charset=utf-8')
        .send('The status page needs credentials (statusAuth).\n');
    });
    scope.get('/', async (_request, reply) => reply.redirect('/status'));
    scope.get('/status', async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', NO_STORE)
        .header('content-security-policy', STATUS_PAGE.contentSecurityPolicy)
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'no-referrer')
        .send(STATUS_PAGE.html),
    );
    scope.get<{ Querystring: { since?: string } }>('/status.json', async (request, reply) => {
      const since = Number(request.query.since);
      const document = await source.status(Number.isFinite(since) ? since : undefined);
      return reply.header('cache-control', NO_STORE).send(document);
    });
    done();
  });

  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .type('text/plain; charset=utf-8')
      .send(
        'Not found. The admin port serves /status, /status.json, /metrics, /healthz, /readyz.\n',
      ),
  );
  return app;
}
