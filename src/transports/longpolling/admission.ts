/**
 * Whether a long poll may be held: a place among the connections held (overall and for its client
 * address) and room for its channel list, both given back when its request ends. A poll refused
 * gets a JSON-RPC error, which Odoo's poll client (12-15) retries 10 to 30 s later.
 */
import type { FastifyReply } from 'fastify';
import { subscriptionCost } from '../../capacity/subscriptionBudget.js';
import type { TransportDependencies } from '../dependencies.js';

const REFUSALS = {
  connections: {
    total: 'Too many connections to the bus; try again later.',
    address: 'Too many connections to the bus from this address; try again later.',
  },
  subscriptions: {
    total: 'Too many channels subscribed on the bus; try again later.',
    address: 'Too many channels subscribed on the bus from this address; try again later.',
  },
} as const;

/** Admits a poll, or returns the message of its refusal. */
export function admitPoll(
  deps: Pick<TransportDependencies, 'connections' | 'subscriptions' | 'metrics'>,
  reply: FastifyReply,
  address: string,
  channels: unknown,
): string | undefined {
  const { connections, subscriptions, metrics } = deps;
  // A browser already gone would never give its place back; its poll holds nothing either.
  if (reply.raw.closed) return undefined;
  const full = connections.take(address);
  if (full !== undefined) {
    metrics.connectionsRefused.labels('longpolling', full).inc();
    return REFUSALS.connections[full];
  }
  const names = Array.isArray(channels)
    ? channels.filter((c): c is string => typeof c === 'string')
    : [];
  const cost = subscriptionCost(names);
  const over = subscriptions.charge(address, 0, cost);
  if (over !== undefined) {
    connections.release(address);
    metrics.subscriptionsRefused.labels('longpolling', over).inc();
    return REFUSALS.subscriptions[over];
  }
  reply.raw.once('close', () => {
    connections.release(address);
    subscriptions.release(address, cost);
  });
  return undefined;
}
