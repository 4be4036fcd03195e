/**
 * Memory held by subscriptions, overall and per client address. A socket keeps its channel list
 * (to re-validate it) and the hub keeps the channels Odoo granted: about three bytes per
 * character of channel name. Caps per message bound one subscribe; this bounds what many sockets
 * (or polls) of one address hold together, and what all of them hold.
 */

/** Counted per channel on top of its name: the entries that index it. */
export const CHANNEL_OVERHEAD = 64;

/** What a channel list costs, in the unit of the caps. */
export function subscriptionCost(channels: readonly string[]): number {
  let cost = channels.length * CHANNEL_OVERHEAD;
  for (const channel of channels) cost += channel.length;
  return cost;
}

export class SubscriptionBudget {
  private held = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(
    readonly total: number,
    readonly perAddress: number,
    private readonly onChange?: (held: number) => void,
  ) {}

  get count(): number {
    return this.held;
  }

  countOf(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }

  /**
   * Replaces what a subscription of `address` costs, `previous`, by `next`; when that would pass
   * a cap, nothing changes and the cap is named. A smaller subscription is always accepted.
   */
  charge(address: string, previous: number, next: number): 'total' | 'address' | undefined {
    const mine = this.byAddress.get(address) ?? 0;
    const delta = next - previous;
    if (delta > 0 && this.held + delta > this.total) return 'total';
    if (delta > 0 && mine + delta > this.perAddress) return 'address';
    const after = mine + delta;
    if (after <= 0) this.byAddress.delete(address);
    else this.byAddress.set(address, after);
    this.held += delta;
    this.onChange?.(this.held);
    return undefined;
  }

  release(address: string, cost: number): void {
    if (cost > 0) this.charge(address, cost, 0);
  }
}
