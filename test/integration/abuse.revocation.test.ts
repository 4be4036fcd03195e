/**
 * Forged revocation NOTIFYs against the real sidecar process. Any PostgreSQL role that may connect to
 * the NOTIFY database can send on `bus_sidecar_revoke`: what is not signed with the shared secret is
 * ignored, counted in /metrics and logged once, and costs no call to Odoo; a revocation that names
 * no database acts nowhere, even where unsigned ones are taken (no secret configured); and signed
 * revocations of one partner re-check its sockets at most once per interval. Two processes, one
 * with the secret and one without, LISTEN on the same cluster and so receive every NOTIFY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revocationSignature } from '../../src/odoo/revocation.js';
import { FOLLOW_UP_DELAYS_MS } from '../../src/odoo/revocationHandler.js';
import { sessionHash } from '../../src/odoo/sessionHash.js';
import { type BrowserSocket, connectBrowserSocket } from '../helpers/clients/wsClient.js';
import {
  notifyRevocation,
  type RevocationFields,
  revocationPayload,
} from '../helpers/fakeOdoo/revocations.js';
import { type SidecarProcess, spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const SECRET = 'revocation-abuse-secret';

let stack: Stack;
let signedOnly: SidecarProcess;
let noSecret: SidecarProcess;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false, odoo: { secret: SECRET } });
  const settings = {
    ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
    // An hour between periodic re-checks, a minute between a partner's re-check rounds: within the
    // test, only what a NOTIFY starts right away can reach Odoo.
    sessionRecheckSeconds: 3600,
    revocationIntervalSeconds: 60,
    logLevel: 'warn',
  };
  [signedOnly, noSecret] = await Promise.all([
    spawnSidecar({ ...settings, secret: SECRET }),
    spawnSidecar(settings),
  ]);
});
afterAll(async () => {
  for (const process of [signedOnly, noSecret]) {
    if (process === undefined) continue;
    process.kill('SIGKILL');
    await process.exited;
  }
  await stack?.close();
});

function notify(payload: unknown): Promise<void> {
  return notifyRevocation(stack.pg, payload);
}

function signed(fields: RevocationFields) {
  return revocationPayload(fields, SECRET);
}

/** A socket of a user, once the sidecar delivers its partner's channel to it. */
async function subscribed(
  sidecar: SidecarProcess,
  partnerId: number,
): Promise<{ socket: BrowserSocket; sid: string; cookie: string }> {
  const { sid, cookie } = stack.login({ uid: partnerId + 100, partnerId });
  const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, { cookie });
  socket.subscribe([], 0);
  await waitFor(() =>
    stack.odoo.callsTo('/websocket/peek_notifications').some((c) => c.headers.cookie === cookie),
  );
  // Delivery on the partner's channel proves the sidecar applied Odoo's answer.
  for (let attempt = 0; attempt < 20; attempt++) {
    const [id] = await stack
      .writer()
      .sendmany([{ channel: ['res.partner', partnerId], type: 'ready', payload: {} }]);
    const received = await socket
      .waitForNotification((n) => n.id === id, 2000)
      .then(() => true)
      .catch(() => false);
    if (received) return { socket, sid, cookie };
  }
  throw new Error(`the socket of partner ${partnerId} never received its channel`);
}

async function metric(sidecar: SidecarProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`odoo_bus_sidecar_${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

/** Calls Odoo received with this browser's cookie (the re-checks of its socket among them). */
function callsWith(cookie: string): number {
  return stack.odoo.calls.filter((c) => c.headers.cookie === cookie).length;
}

/** Sends a signed revocation of a sentinel socket's session and waits for its close: NOTIFYs
 * arrive in order, so every NOTIFY sent before has been handled by then. */
async function barrier(sidecar: SidecarProcess): Promise<void> {
  const sentinel = await subscribed(sidecar, 99);
  await notify(signed({ db: stack.db, sessions: [sessionHash(sentinel.sid)], partners: [] }));
  expect((await sentinel.socket.closed).code).toBe(4001);
}

describe('forged revocation NOTIFYs (a secret is configured)', () => {
  it('ignores unsigned and badly signed ones, counts them, logs them once, and calls Odoo for none', async () => {
    const user = await subscribed(signedOnly, 7);
    const forged = { db: stack.db, sessions: [sessionHash(user.sid)], partners: [7] };
    for (let i = 0; i < 10; i++) {
      await notify(forged);
      await notify({ ...forged, sig: revocationSignature('guessed', stack.db, [], [7]) });
    }
    // Valid signature, altered fields.
    await notify({ ...signed({ db: stack.db, sessions: [], partners: [8] }), partners: [7] });
    await barrier(signedOnly);

    expect(user.socket.ws.readyState).toBe(user.socket.ws.OPEN);
    expect(callsWith(user.cookie)).toBe(1);
    expect(await metric(signedOnly, 'revocation_notifies_total', 'outcome="unsigned"')).toBe(10);
    expect(await metric(signedOnly, 'revocation_notifies_total', 'outcome="bad_signature"')).toBe(
      11,
    );
    expect(await metric(signedOnly, 'revocation_notifies_total', 'outcome="applied"')).toBe(1);
    const warnings = signedOnly.output
      .join('')
      .split('\n')
      .filter((l) => l.includes('revocation NOTIFY ignored'));
    expect(warnings).toHaveLength(2);
    expect(signedOnly.output.join('')).not.toContain(user.sid);
    await user.socket.close();
  });

  it('re-checks the sockets of a partner named by signed revocations at most once per interval', async () => {
    const user = await subscribed(signedOnly, 17);
    const before = callsWith(user.cookie);
    const followUpsBefore = await metric(
      signedOnly,
      'revocation_rechecks_total',
      'kind="follow_up"',
    );
    for (let i = 0; i < 20; i++)
      await notify(signed({ db: stack.db, sessions: [], partners: [17] }));
    await waitFor(
      async () =>
        (await metric(signedOnly, 'revocation_rechecks_total', 'kind="follow_up"')) ===
        followUpsBefore + FOLLOW_UP_DELAYS_MS.length,
    );
    // The session is still valid: Odoo keeps saying so, the socket stays.
    await waitFor(() => callsWith(user.cookie) === before + 1 + FOLLOW_UP_DELAYS_MS.length);
    await barrier(signedOnly);
    expect(callsWith(user.cookie)).toBe(before + 1 + FOLLOW_UP_DELAYS_MS.length);
    expect(await metric(signedOnly, 'revocation_rechecks_total', 'kind="merged"')).toBe(19);
    expect(user.socket.ws.readyState).toBe(user.socket.ws.OPEN);
    await user.socket.close();
  });
});

describe('revocations without a database', () => {
  it('act nowhere, even where unsigned revocations are taken', async () => {
    for (const sidecar of [noSecret, signedOnly]) {
      const user = await subscribed(sidecar, 27);
      // Both processes LISTEN on the same cluster: each one counts every NOTIFY.
      const counted = await metric(sidecar, 'revocation_notifies_total', 'outcome="no_database"');
      const sessions = [sessionHash(user.sid)];
      await notify({ sessions, partners: [27] });
      await notify({ db: '', sessions, partners: [27] });
      await notify({
        sessions,
        partners: [27],
        sig: revocationSignature(SECRET, '', sessions, [27]),
      });
      await barrier(sidecar);
      expect(user.socket.ws.readyState).toBe(user.socket.ws.OPEN);
      expect(callsWith(user.cookie)).toBe(1);
      expect(await metric(sidecar, 'revocation_notifies_total', 'outcome="no_database"')).toBe(
        counted + 3,
      );
      await user.socket.close();
    }
  });
});
