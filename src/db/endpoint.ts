/**
 * One PostgreSQL (or PgBouncer) address and how to speak TLS to it, the way libpq does for Odoo
 * (`db_sslmode`, `PGSSLROOTCERT`...). `pg` alone would not: its `ssl: true` checks the host name
 * and never falls back, so libpq's `prefer` (Odoo's default: TLS when the server offers it) and
 * `require` (TLS, any certificate) are built here.
 *
 * `prefer` asks the server once, with the same first message libpq sends (`SSLRequest`); the
 * answer is kept for the process. Until a server has answered (it was down at start), connections
 * go without TLS and every new connection asks again in the background.
 */
import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import pg from 'pg';
import type { SslMode } from '../config/settings.js';

export interface EndpointOptions {
  host: string;
  port: number;
  sslMode: SslMode;
  /** PEM files; `rootCert` may be `system` (the system's CAs). */
  sslRootCert?: string | undefined;
  sslCert?: string | undefined;
  sslKey?: string | undefined;
  /** Time limit of the TLS question at start. */
  negotiateTimeoutMs?: number;
}

/** libpq's `SSLRequest`: length 8, code 1234/5679. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

export class PgEndpoint {
  /** Whether the server answered the SSLRequest with 'S' (undefined: not asked yet). */
  private offered: boolean | undefined;
  private asking: Promise<void> | undefined;
  private readonly tls: ConnectionOptions;

  constructor(private readonly options: EndpointOptions) {
    this.tls = tlsOptions(options);
  }

  get host(): string {
    return this.options.host;
  }

  get port(): number {
    return this.options.port;
  }

  /** libpq never uses TLS on a Unix socket, whatever the mode. */
  get isUnixSocket(): boolean {
    return this.options.host.startsWith('/');
  }

  /** Whether connections opened now use TLS. */
  get usesTls(): boolean {
    return this.ssl() !== false;
  }

  /** The `ssl` of a `pg` connection opened now. */
  ssl(): false | ConnectionOptions {
    if (this.isUnixSocket) return false;
    switch (this.options.sslMode) {
      case 'disable':
      case 'allow':
        return false;
      case 'prefer':
        if (this.offered === undefined) void this.negotiate();
        return this.offered === true ? this.tls : false;
      default:
        return this.tls;
    }
  }

  /** Asks the server whether it speaks TLS (only `prefer` needs to know). Never rejects. */
  negotiate(): Promise<void> {
    if (this.isUnixSocket || this.options.sslMode !== 'prefer' || this.offered !== undefined) {
      return Promise.resolve();
    }
    this.asking ??= askServer(this.options.host, this.options.port, this.options.negotiateTimeoutMs)
      .then((offered) => {
        this.offered = offered;
      })
      .catch(() => undefined)
      .finally(() => {
        this.asking = undefined;
      });
    return this.asking;
  }

  /** A `pg.Client` class whose every connection takes this endpoint's TLS decision of the moment. */
  clientClass(): typeof pg.Client {
    const endpoint = this;
    return class EndpointClient extends pg.Client {
      constructor(config?: pg.ClientConfig) {
        // pg.Pool keeps the password as a non-enumerable property: a spread alone would drop it.
        super({ ...config, password: config?.password, ssl: endpoint.ssl() });
      }
    };
  }
}

/**
 * The TLS options of libpq's modes: `prefer`/`require` accept any certificate (`require` with a
 * root certificate checks it as `verify-ca`, as libpq does), `verify-ca` checks the chain only,
 * `verify-full` the chain and the host name.
 */
function tlsOptions(options: EndpointOptions): ConnectionOptions {
  const tls: ConnectionOptions = {};
  const { sslMode, sslRootCert, sslCert, sslKey } = options;
  if (sslCert !== undefined) tls.cert = readFileSync(sslCert);
  if (sslKey !== undefined) tls.key = readFileSync(sslKey);
  if (sslRootCert !== undefined && sslRootCert !== 'system') tls.ca = readFileSync(sslRootCert);
  const checksChain =
    sslMode === 'verify-ca' ||
    sslMode === 'verify-full' ||
    (sslMode === 'require' && sslRootCert !== undefined);
  tls.rejectUnauthorized = checksChain;
  if (checksChain && sslMode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  return tls;
}

/**
 * Sends the `SSLRequest` and reads the one-byte answer. On 'S' the TLS handshake is completed before
 * closing, so that the server logs nothing (it stays silent about a connection that ends before its
 * startup message, but not about a TLS handshake left half done).
 */
function askServer(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connectTcp({ host, port });
    let settled = false;
    const finish = (error: Error | undefined, offered?: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(offered === true);
    };
    const timer = setTimeout(() => finish(new Error('no answer to SSLRequest')), timeoutMs);
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.once('data', (chunk) => {
      const answer = chunk.subarray(0, 1).toString('latin1');
      if (answer !== 'S') {
        finish(answer === 'N' ? undefined : new Error('unexpected answer to SSLRequest'), false);
        return;
      }
      socket.removeAllListeners('error');
      const secure = connectTls({ socket, rejectUnauthorized: false });
      // end(), not destroy(): the last handshake message must reach the server before the close.
      secure.once('secureConnect', () => secure.end());
      secure.once('close', () => finish(undefined, true));
      secure.once('error', () => finish(undefined, true));
    });
  });
}
