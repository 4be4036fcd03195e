/**
 * A whole deployment for integration tests, on real processes: a throwaway PostgreSQL, PgBouncer in
 * transaction mode (from `deploy/pgbouncer.ini`) carrying the simulated Odoo's writes and the
 * sidecar's reads, a fake Odoo HTTP per database (answering like the recordings), and the sidecar
 * in this process with its LISTEN connection straight on PostgreSQL — the production picture.
 */

import { configFrom } from '../../../src/config/load.js';
import type { SettingKey } from '../../../src/config/settings.js';
import { createLogger, type Logger } from '../../../src/observability/logger.js';
import { createSidecar, type Sidecar } from '../../../src/sidecar.js';
import {
  type BrowserSocket,
  type BrowserSocketOptions,
  connectBrowserSocket,
} from '../clients/wsClient.js';
import { type FakeOdoo, type FakeOdooOptions, startFakeOdoo } from '../fakeOdoo/fakeOdoo.js';
import { type OdooRouter, startOdooRouter } from '../fakeOdoo/odooRouter.js';
import {
  createOdooWriter,
  type OdooWriter,
  type OdooWriterOptions,
} from '../fakeOdoo/odooWriter.js';
import {
  notifyRevocation,
  type RevocationFields,
  revocationPayload,
} from '../fakeOdoo/revocations.js';
import { waitFor } from '../waitFor.js';
import { type PgBouncer, startPgBouncer } from './pgbouncer.js';
import { type PgCluster, SIDECAR_ROLE, startPostgres } from './postgres.js';

export interface StackOptions {
  /** Odoo databases; the first is `db`. Default: one database named `odoo17`. */
  databases?: string[];
  /** Sidecar settings on top of the stack's. */
  sidecar?: Partial<Record<SettingKey, unknown>>;
  odoo?: Partial<Omit<FakeOdooOptions, 'pg' | 'database'>>;
  /** Start the sidecar right away (default true). */
  startSidecar?: boolean;
}

export interface Stack {
  pg: PgCluster;
  bouncer: PgBouncer;
  /** First database. */
  db: string;
  odoo: FakeOdoo;
  odooFor(db: string): FakeOdoo;
  /** The URL the sidecar calls: routes each request to the fake Odoo of its session's database. */
  router: OdooRouter;
  sidecar: Sidecar;
  /** `ws://127.0.0.1:<port>/websocket` of the current sidecar. */
  wsUrl: string;
  httpUrl: string;
  /** `http://127.0.0.1:<admin port>` of the current sidecar: `/metrics`, `/readyz`, `/status`. */
  adminUrl: string;
  writer(db?: string, options?: Partial<OdooWriterOptions>): OdooWriter;
  /** Adds a logged-in session to the database's fake Odoo and opens a socket with its cookie. */
  login(options?: { db?: string; uid?: number; partnerId?: number; memberChannels?: number[] }): {
    sid: string;
    cookie: string;
  };
  connect(options?: BrowserSocketOptions & { path?: string }): Promise<BrowserSocket>;
  /**
   * Opens a socket with `cookie`, subscribes like Odoo's worker and resolves once the sidecar has
   * applied Odoo's answer (the socket then knows its database and receives its channels).
   */
  subscribed(
    cookie: string,
    options?: { channels?: string[]; last?: number; path?: string },
  ): Promise<BrowserSocket>;
  /** The addon's revocation NOTIFY, signed with the sidecar's secret when it has one. */
  revoke(fields: RevocationFields): Promise<void>;
  /** Builds and starts a (new) sidecar with these settings on top of the stack's. */
  startSidecar(
    overrides?: Partial<Record<SettingKey, unknown>>,
    options?: { logger?: Logger },
  ): Promise<Sidecar>;
  close(): Promise<void>;
}

/**
 * Every test client connects from 127.0.0.1: the caps and shares per client address would count
 * all of them as one client. And a test of something else must not run into the deadline of calls
 * waiting for Odoo on a loaded machine. Tests of these caps put the defaults back (`undefined`).
 */
export const CAPS_LIFTED: Partial<Record<SettingKey, unknown>> = {
  odooQueueWaitMs: 120_000,
  odooSlotsPerAddress: 256,
  odooQueuePerAddress: 1_000_000,
  maxConnectionsPerAddress: 1_000_000,
  maxSubscribedBytesPerAddress: 2 ** 40,
};

export function sidecarSettings(
  pg: PgCluster,
  bouncer: PgBouncer,
  odooUrl: string,
): Partial<Record<SettingKey, unknown>> {
  return {
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    // Reads go through PgBouncer like Odoo's own traffic; LISTEN goes to PostgreSQL directly.
    dbHost: bouncer.host,
    dbPort: bouncer.port,
    listenDbHost: pg.host,
    listenDbPort: pg.port,
    dbUser: SIDECAR_ROLE.user,
    dbPassword: SIDECAR_ROLE.password,
    odooUrl,
    coalesceMs: 2,
    // No restart journal in the system's temporary directory; the restart tests give their own.
    stateDir: 'off',
    logLevel: process.env.SIDECAR_TEST_LOG ?? 'silent',
    ...CAPS_LIFTED,
  };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const databases = options.databases ?? ['odoo17'];
  const pg = await startPostgres();
  const closers: Array<() => Promise<unknown>> = [() => pg.stop()];
  try {
    for (const db of databases) await pg.createOdooDatabase(db);
    const bouncer = await startPgBouncer(pg);
    closers.unshift(() => bouncer.stop());
    const fakes = new Map<string, FakeOdoo>();
    for (const db of databases) {
      const fake = await startFakeOdoo({ pg, database: db, ...options.odoo });
      fakes.set(db, fake);
      closers.unshift(() => fake.close());
    }
    const router = await startOdooRouter([...fakes.values()]);
    closers.unshift(() => router.close());
    const writers: OdooWriter[] = [];
    closers.unshift(async () => {
      await Promise.all(writers.map((w) => w.close()));
    });

    let sidecar: Sidecar | undefined;
    let wsUrl = '';
    let httpUrl = '';
    let adminUrl = '';
    const stack: Stack = {
      pg,
      bouncer,
      db: databases[0] as string,
      router,
      get odoo() {
        return fakes.get(databases[0] as string) as FakeOdoo;
      },
      odooFor(db) {
        const fake = fakes.get(db);
        if (!fake) throw new Error(`no fake Odoo for ${db}`);
        return fake;
      },
      get sidecar() {
        if (!sidecar) throw new Error('the sidecar is not started');
        return sidecar;
      },
      get wsUrl() {
        return wsUrl;
      },
      get httpUrl() {
        return httpUrl;
      },
      get adminUrl() {
        return adminUrl;
      },
      writer(db = databases[0] as string, extra = {}) {
        const writer = createOdooWriter({
          host: bouncer.host,
          port: bouncer.port,
          database: db,
          ...extra,
        });
        writers.push(writer);
        return writer;
      },
      login({ db = databases[0] as string, uid = 2, partnerId = 3, memberChannels = [1] } = {}) {
        const sid = stack.odooFor(db).addSession({ uid, partnerId, memberChannels });
        return { sid, cookie: `session_id=${sid}` };
      },
      connect({ path = '/websocket', ...socketOptions } = {}) {
        return connectBrowserSocket(`${wsUrl.replace(/\/websocket$/, '')}${path}`, socketOptions);
      },
      async subscribed(cookie, { channels = [], last = 0, path } = {}) {
        const applied = () =>
          [...stack.sidecar.websockets.sockets].filter(
            (s) =>
              s.presentedSessionId !== undefined &&
              cookie.includes(s.presentedSessionId) &&
              s.db !== undefined,
          ).length;
        const before = applied();
        const socket = await stack.connect({ cookie, ...(path === undefined ? {} : { path }) });
        socket.subscribe(channels, last);
        await waitFor(() => applied() > before, {
          message: 'the sidecar applied the subscription',
        });
        return socket;
      },
      revoke(fields) {
        return notifyRevocation(pg, revocationPayload(fields, sidecar?.config.secret));
      },
      async startSidecar(overrides = {}, { logger } = {}) {
        const config = configFrom({
          ...sidecarSettings(pg, bouncer, router.url),
          ...options.sidecar,
          ...overrides,
        });
        const created = createSidecar(config, logger ?? createLogger(config.logLevel));
        const { port } = await created.start();
        sidecar = created;
        wsUrl = `ws://127.0.0.1:${port}/websocket`;
        httpUrl = `http://127.0.0.1:${port}`;
        adminUrl = `http://127.0.0.1:${created.admin?.port}`;
        closers.unshift(() => created.destroy());
        return created;
      },
      async close() {
        for (const close of closers) await close().catch(() => undefined);
      },
    };
    if (options.startSidecar ?? true) await stack.startSidecar();
    return stack;
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    throw error;
  }
}
