/**
 * Immediate session revocation, the sidecar's side: the `bus_sidecar` addon NOTIFYs
 * `bus_sidecar_revoke` on logout (naming the session by its hash) or on a password change (naming
 * the partner); sockets of a revoked session close with 4001 at once, sockets of a named partner are
 * re-validated with Odoo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionHash } from '../../src/odoo/sessionHash.js';
import { barrier, odooIdle } from '../helpers/barrier.js';
import type { BrowserSocket } from '../helpers/clients/wsClient.js';
import { notifyRevocation } from '../helpers/fakeOdoo/revocations.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  // A long periodic re-check, so that only the NOTIFY can explain a close.
  stack = await startStack({ sidecar: { sessionRecheckSeconds: 3600 } });
});
afterAll(async () => {
  await stack?.close();
});

function subscribed(cookie: string): Promise<BrowserSocket> {
  return stack.subscribed(cookie);
}

/** A payload as it is, signed or not, JSON or not (this sidecar has no secret: all are taken). */
function revoke(payload: unknown): Promise<void> {
  return notifyRevocation(stack.pg, payload);
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

  it('closes a named partner’s socket with 4001 even when the first re-check reaches a worker that has not seen the password change', async () => {
    const user = stack.login({ uid: 6, partnerId: 7 });
    const socket = await subscribed(user.cookie);
    const peeksOf = () =>
      stack.odoo
        .callsTo('/websocket/peek_notifications')
        .filter((c) => c.headers.cookie === user.cookie).length;
    const before = peeksOf();
    // Odoo committed the new password; one HTTP worker still has the old session token cached.
    stack.odoo.invalidateSession(user.sid, { staleAnswers: 1 });
    await revoke({ db: stack.db, partners: [7], sessions: [] });
    // The periodic re-check is an hour away: only the revocation can close it.
    expect(await socket.closed).toEqual({ code: 4001, reason: '' });
    expect(peeksOf() - before).toBeGreaterThanOrEqual(2);
  });

  it('acts nowhere on a revocation that names no database', async () => {
    const user = stack.login();
    const sentinel = stack.login();
    const [socket, closing] = await Promise.all([
      subscribed(user.cookie),
      subscribed(sentinel.cookie),
    ]);
    await revoke({ partners: [3], sessions: [sessionHash(user.sid)] });
    // NOTIFYs arrive in order: once the next one is applied, the first one was handled.
    await revoke({ db: stack.db, partners: [], sessions: [sessionHash(sentinel.sid)] });
    expect((await closing.closed).code).toBe(4001);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    await socket.close();
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
