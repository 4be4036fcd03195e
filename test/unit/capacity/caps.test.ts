import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionCaps } from '../../../src/capacity/connectionCaps.js';
import { capacityLimits } from '../../../src/capacity/limits.js';
import { parseOpenFileLimit } from '../../../src/capacity/openFileLimit.js';
import { SubscriptionBudget, subscriptionCost } from '../../../src/capacity/subscriptionBudget.js';
import { configFrom } from '../../../src/config/load.js';
import { callQueues } from '../../../src/odoo/callBudget.js';
import { addressGroup } from '../../../src/transports/clientAddress.js';
import {
  browserContext,
  clientIdentity,
  ProxyTrust,
} from '../../../src/transports/clientIdentity.js';

function request(remoteAddress: string, headers: Record<string, string> = {}) {
  return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

describe('the address caps count by', () => {
  const trust = new ProxyTrust(true, ['127.0.0.0/8']);
  const addressOf = (from: string, headers: Record<string, string> = {}) =>
    browserContext(request(from, headers), clientIdentity(request(from, headers), trust)).address;

  it("is the peer, or the last X-Forwarded-For entry (the nearest proxy's) of a trusted proxy", () => {
    const proxied = {
      'x-forwarded-host': 'odoo.example',
      'x-forwarded-for': '6.6.6.6, 198.51.100.7',
    };
    expect(addressOf('127.0.0.1', proxied)).toBe('198.51.100.7');
    expect(addressOf('203.0.113.9', proxied)).toBe('203.0.113.9');
    expect(addressOf('127.0.0.1', { 'x-forwarded-for': '198.51.100.7' })).toBe('127.0.0.1');
  });

  it('never keeps a forged entry that is not an address, nor a huge one', () => {
    const forged = { 'x-forwarded-host': 'odoo.example', 'x-forwarded-for': 'x'.repeat(15_000) };
    expect(addressOf('127.0.0.1', forged)).toBe('invalid');
    expect(addressGroup(undefined)).toBe('unknown');
  });

  it('counts IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressGroup('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressGroup('192.0.2.1')).toBe('192.0.2.1');
  });
});

describe('ConnectionCaps', () => {
  it('holds the total and per-address caps through any order of opens and closes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 })), { maxLength: 100 }),
        (total, perAddress, steps) => {
          const caps = new ConnectionCaps(total, perAddress);
          const held = new Map<string, number>();
          for (const [opening, a] of steps) {
            const address = `10.0.0.${a}`;
            const mine = held.get(address) ?? 0;
            if (opening) {
              const refusal = caps.take(address);
              const sum = [...held.values()].reduce((x, y) => x + y, 0);
              expect(refusal).toBe(
                sum >= total ? 'total' : mine >= perAddress ? 'address' : undefined,
              );
              if (refusal === undefined) held.set(address, mine + 1);
            } else if (mine > 0) {
              caps.release(address);
              held.set(address, mine - 1);
            }
            expect(caps.countOf(address)).toBe(held.get(address) ?? 0);
          }
          expect(caps.count).toBe([...held.values()].reduce((x, y) => x + y, 0));
        },
      ),
    );
  });
});

describe('SubscriptionBudget', () => {
  it('counts names and a per-channel overhead; refuses growth past a cap, never a shrink', () => {
    expect(subscriptionCost(['ab', 'c'])).toBe(3 + 2 * 64);
    const budget = new SubscriptionBudget(1000, 400);
    expect(budget.charge('a', 0, 300)).toBeUndefined();
    expect(budget.charge('a', 0, 200)).toBe('address');
    expect(budget.charge('a', 300, 350)).toBeUndefined();
    expect(budget.charge('b', 0, 400)).toBeUndefined();
    expect(budget.charge('c', 0, 300)).toBe('total');
    expect(budget.charge('a', 350, 10)).toBeUndefined();
    budget.release('a', 10);
    budget.release('b', 400);
    expect([budget.count, budget.countOf('a'), budget.countOf('b')]).toEqual([0, 0, 0]);
  });
});

describe('limits from the settings and the process', () => {
  it('reads the soft open-file limit of /proc/self/limits', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             95706                95706                processes ',
      'Max open files            20000                20000                files     ',
    ].join('\n');
    expect(parseOpenFileLimit(limits)).toBe(20_000);
    expect(
      parseOpenFileLimit(limits.replace('20000                20000', 'unlimited unlimited')),
    ).toBe(Number.POSITIVE_INFINITY);
    expect(parseOpenFileLimit('nothing here')).toBeUndefined();
  });

  it('sizes connection caps from the open files, keeping a reserve for everything else', () => {
    const limits = capacityLimits(configFrom({}), { limit: 20_000, known: true }, 4 * 2 ** 30);
    expect(limits.connections).toBe(18_000);
    expect(limits.connectionsPerAddress).toBe(1000);
    expect(limits.tcpConnections).toBeGreaterThan(limits.connections);
    expect(limits.tcpConnections).toBeLessThan(20_000);
    expect(limits.subscribedBytes).toBe(2 ** 29);
    const set = capacityLimits(
      configFrom({ maxConnections: 50, maxSubscribedBytes: 1000 }),
      { limit: 20_000, known: true },
      4 * 2 ** 30,
    );
    expect([set.connections, set.subscribedBytes]).toEqual([50, 1000]);
  });

  it('gives one client address half the slots and a tenth of the places of each queue', () => {
    const queues = callQueues(configFrom({}));
    expect(queues.calls).toMatchObject({
      slots: 4,
      places: 5000,
      slotsPerAddress: 2,
      placesPerAddress: 500,
    });
    expect(queues.forwarding).toMatchObject({ slots: 2, places: 500, slotsPerAddress: 1 });
    const one = callQueues(configFrom({ odooConcurrency: 1, odooSlotsPerAddress: 9 }));
    expect(one.calls).toMatchObject({ slots: 1, slotsPerAddress: 1 });
  });
});
