/**
 * Immediate session revocation, the sidecar's side: the `bus_sidecar` addon NOTIFYs
 * `bus_sidecar_revoke` on logout (naming the session by its hash) or on a password change (naming
 * the partner); sockets of a revoked session close with 4001 at once, sockets of a named partner are
 * re-validated with Odoo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REVOKE_CHANNEL } from '../../src/odoo/addonContract.js';
import { sessionHash } from '../../src/odoo/sessionHash.js';
import { barrier, odooIdle } from '../helpers/barrier.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/waitFor.js';
import type { OdooSocket } from '../helpers/wsClient.js';

let stack: Stack;

beforeAll(async () => {
  // A long periodic re-check, so that only the NOTIFY can explain a close.
  stack = await startStack({ sidecar: { sessionRecheckSeconds: 3600 } });
});
afterAll(async () => {
  await stack?.close();
});

function subscribed(cookie: string): Promise<OdooSocket> {
  return stack.subscribed(cookie);
}

async function revoke(payload: unknown): Promise<void> {
  await stack.pg.query('postgres', 'SELECT pg_notify($1, $2)', [
    REVOKE_CHANNEL,
    typeof payload === 'string' ? payload : JSON.stringify(payload),
  ]);
}

describe('revocation NOTIFY', () => {
  it('closes every socket of a revoked session with 4001 at once, and no other', async () => {
    const loggedOut = stack.login();
    const other = stack.login();
    const [a, b, c] = await Promise.all([
      subscribed(loggedOut.cookie),
      subscribed(loggedOut.cookie),
      subscribed(other.cookie),
    ]);
    await revoke({ db: stack.db, partners: [], sessions: [sessionHash(loggedOut.sid)] });
    // The periodic re-check is an hour away: only the NOTIFY can close them.
    expect(await a.closed).toEqual({ code: 4001, reason: '' });
    expect(await b.closed).toEqual({ code: 4001, reason: '' });
    // A row notified after the revocation reaches c: the revocation left it open.
    await barrier(stack, c);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    await c.close();
  });

  it('ignores a revocation for another database', async () => {
    const user = stack.login();
    const socket = await subscribed(user.cookie);
    await revoke({ db: 'some_other_db', partners: [], sessions: [sessionHash(user.sid)] });
    await barrier(stack, socket);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    await socket.close();
  });

  it('re-validates the sockets of a named partner: the invalidated session closes, the valid one stays', async () => {
    const changedPassword = stack.login({ uid: 6, partnerId: 7 });
    const stillValid = stack.login({ uid: 6, partnerId: 7 });
    const [gone, kept] = await Promise.all([
      subscribed(changedPassword.cookie),
      subscribed(stillValid.cookie),
    ]);
    stack.odoo.destroySession(changedPassword.sid);
    await revoke({ db: stack.db, partners: [7], sessions: [] });
    expect((await gone.closed).code).toBe(4001);
    await waitFor(
      () =>
        stack.odoo
          .callsTo('/websocket/peek_notifications')
          .filter((c) => c.headers.cookie === stillValid.cookie).length >= 2,
    );
    // Odoo's answer to the re-validation is in, and a later row still reaches the socket.
    await odooIdle(stack);
    await barrier(stack, kept);
    expect(kept.ws.readyState).toBe(kept.ws.OPEN);
    await kept.close();
  });

  it('counts and skips a malformed revocation payload', async () => {
    const before = (await stack.sidecar.metrics.notifyMalformed.get()).values[0]?.value ?? 0;
    await revoke('not json');
    await waitFor(
      async () =>
        ((await stack.sidecar.metrics.notifyMalformed.get()).values[0]?.value ?? 0) === before + 1,
    );
    expect(stack.sidecar.listener.isUp).toBe(true);
  });
});
