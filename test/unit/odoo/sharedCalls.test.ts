import { describe, expect, it } from 'vitest';
import type { BrowserContext } from '../../../src/odoo/client.js';
import { SharedCalls, sharedCallKey } from '../../../src/odoo/sharedCalls.js';

const browser = (cookie: string, host = 'erp.example.com'): BrowserContext => ({
  address: '10.0.0.1',
  cookie,
  host,
  forwardedFor: undefined,
  forwardedHost: undefined,
  forwardedProto: 'https',
  userAgent: undefined,
});

const PEEK = '/websocket/peek_notifications';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('sharedCallKey', () => {
  it('is the same for the tabs of one session asking the same, and differs otherwise', () => {
    const params = { channels: ['a'], last: 0, is_first_poll: true };
    const tab = sharedCallKey(PEEK, params, browser('session_id=s1'));
    expect(tab).toBeDefined();
    expect(sharedCallKey(PEEK, { ...params }, browser('session_id=s1'))).toBe(tab);
    expect(sharedCallKey(PEEK, params, browser('session_id=s2'))).not.toBe(tab);
    expect(sharedCallKey(PEEK, { ...params, last: 5 }, browser('session_id=s1'))).not.toBe(tab);
    expect(sharedCallKey(PEEK, params, browser('session_id=s1', 'other.example.com'))).not.toBe(
      tab,
    );
  });

  it('never shares other routes or calls without a cookie', () => {
    expect(sharedCallKey('/websocket/update_bus_presence', {}, browser('session_id=s1'))).toBe(
      undefined,
    );
    expect(sharedCallKey(PEEK, {}, browser(''))).toBe(undefined);
  });
});

describe('SharedCalls', () => {
  it('makes one call for callers arriving while it is out, and a new one afterwards', async () => {
    const shared = new SharedCalls<string>();
    const answer = deferred<string>();
    let calls = 0;
    const start = () => {
      calls++;
      return answer.promise;
    };
    const first = shared.run('k', undefined, start, () => 'abandoned');
    const second = shared.run('k', undefined, start, () => 'abandoned');
    answer.resolve('odoo');
    expect(await Promise.all([first, second])).toEqual(['odoo', 'odoo']);
    expect(calls).toBe(1);
    expect(shared.joined).toBe(1);
    expect(shared.size).toBe(0);
    await shared.run(
      'k',
      undefined,
      async () => {
        calls++;
        return 'again';
      },
      () => 'abandoned',
    );
    expect(calls).toBe(2);
  });

  it('abandons the call only when every caller has gone', async () => {
    const shared = new SharedCalls<string>();
    const answer = deferred<string>();
    let signal: AbortSignal | undefined;
    const start = (own: AbortSignal) => {
      signal = own;
      return answer.promise;
    };
    const gone1 = new AbortController();
    const gone2 = new AbortController();
    const first = shared.run('k', gone1.signal, start, () => 'abandoned');
    const second = shared.run('k', gone2.signal, start, () => 'abandoned');
    gone1.abort();
    expect(await first).toBe('abandoned');
    expect(signal?.aborted).toBe(false);
    gone2.abort();
    expect(await second).toBe('abandoned');
    expect(signal?.aborted).toBe(true);
    expect(shared.size).toBe(0);
  });

  it('answers a caller that has already gone without calling', async () => {
    const shared = new SharedCalls<string>();
    let calls = 0;
    const outcome = await shared.run(
      'k',
      AbortSignal.abort(),
      async () => {
        calls++;
        return 'odoo';
      },
      () => 'abandoned',
    );
    expect(outcome).toBe('abandoned');
    expect(calls).toBe(0);
  });
});
