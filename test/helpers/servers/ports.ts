/**
 * Free TCP ports for servers that cannot listen on port 0 themselves (PostgreSQL and PgBouncer take a
 * port number in their configuration). The port is free when returned; a concurrent process could
 * still take it before the server binds, so callers that can retry on "address in use" should.
 */
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a probe socket'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
