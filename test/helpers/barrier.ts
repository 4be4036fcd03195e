/**
 * "Nothing more is coming" without waiting for time. A test that checks that a socket did NOT get
 * something (a row of another database, a close) cannot wait for it; instead it sends a marker that
 * must come after it and waits for the marker. The sidecar reads `bus_bus` of a database in id
 * order and writes each socket's frames in order, and one socket's frames arrive in order: when the
 * marker row is in, everything the sidecar was going to send that socket because of earlier rows —
 * or of earlier NOTIFYs on its one LISTEN connection, such as a revocation — has arrived too, or
 * the socket would be closed.
 */

import type { BrowserSocket } from './clients/wsClient.js';
import type { OdooWriter } from './fakeOdoo/odooWriter.js';
import type { Stack } from './servers/stack.js';
import { waitFor } from './waitFor.js';

/** The `type` of marker rows, for tests that leave them out of what they compare. */
export const BARRIER_TYPE = 'test/barrier';

type BarrierStack = Pick<Stack, 'writer' | 'db'>;
type SettleStack = BarrierStack & Pick<Stack, 'sidecar'>;

/** One writer per stack and database, closed with the stack. */
const writers = new WeakMap<BarrierStack, Map<string, OdooWriter>>();

function writerFor(stack: BarrierStack, db: string): OdooWriter {
  const byDb = writers.get(stack) ?? new Map<string, OdooWriter>();
  writers.set(stack, byDb);
  const writer = byDb.get(db) ?? stack.writer(db);
  byDb.set(db, writer);
  return writer;
}

/**
 * Writes one broadcast row in `db` (default: the stack's first database) and resolves with its id
 * once every socket of `sockets` has received it.
 */
export async function barrier(
  stack: BarrierStack,
  sockets: BrowserSocket | readonly BrowserSocket[],
  db: string = stack.db,
): Promise<number> {
  const [id] = await writerFor(stack, db).sendmany([
    { channel: 'broadcast', type: BARRIER_TYPE, payload: {} },
  ]);
  const all = (Array.isArray(sockets) ? sockets : [sockets]) as readonly BrowserSocket[];
  await Promise.all(all.map((socket) => socket.waitForNotification((n) => n.id === id)));
  return id as number;
}

/**
 * A barrier, then the database's reader idle: no read of `bus_bus` running or scheduled, so a
 * count of reads started now counts only what the test does next.
 */
export async function settled(
  stack: SettleStack,
  sockets: BrowserSocket | readonly BrowserSocket[],
  db: string = stack.db,
): Promise<number> {
  const id = await barrier(stack, sockets, db);
  await stack.sidecar.readers.existingReader(db)?.idle();
  return id;
}

/** Resolves once the sidecar has no call to Odoo in flight or waiting for a slot. */
export async function odooIdle(stack: Pick<Stack, 'sidecar'>): Promise<void> {
  const gauge = async (name: 'odooInFlight' | 'odooQueued') =>
    (await stack.sidecar.metrics[name].get()).values[0]?.value ?? 0;
  await waitFor(async () => (await gauge('odooInFlight')) + (await gauge('odooQueued')) === 0, {
    message: 'no call to Odoo in flight or queued',
  });
}

/**
 * Resolves once the sidecar's reader of `db` has read row `id` and handed it to its subscribers
 * (long polls are answered then, or not at all).
 */
export async function readPast(
  stack: Pick<Stack, 'sidecar'>,
  db: string,
  id: number,
): Promise<void> {
  await waitFor(() => (stack.sidecar.readers.existingReader(db)?.position ?? 0) >= id, {
    message: `the reader of ${db} past row ${id}`,
  });
}
