/**
 * Who listens to what: channel key ↔ subscriber, both directions, nothing else (no I/O, no timers).
 * Replacing a subscriber's channels or removing it costs O(its channels), never O(all channels),
 * and an emptied channel entry is deleted at once so the map does not grow with history.
 */
export class Registry<S> {
  private readonly byChannel = new Map<string, Set<S>>();
  private readonly bySubscriber = new Map<S, Set<string>>();

  /** Makes `keys` the whole subscription of `subscriber`. */
  replace(subscriber: S, keys: Iterable<string>): void {
    const next = new Set(keys);
    const previous = this.bySubscriber.get(subscriber);
    if (previous) {
      for (const key of previous) if (!next.has(key)) this.unlink(key, subscriber);
    }
    for (const key of next) {
      if (previous?.has(key)) continue;
      let set = this.byChannel.get(key);
      if (!set) {
        set = new Set();
        this.byChannel.set(key, set);
      }
      set.add(subscriber);
    }
    if (next.size === 0) this.bySubscriber.delete(subscriber);
    else this.bySubscriber.set(subscriber, next);
  }

  remove(subscriber: S): void {
    const keys = this.bySubscriber.get(subscriber);
    if (!keys) return;
    for (const key of keys) this.unlink(key, subscriber);
    this.bySubscriber.delete(subscriber);
  }

  subscribersOf(key: string): ReadonlySet<S> | undefined {
    return this.byChannel.get(key);
  }

  channelsOf(subscriber: S): ReadonlySet<string> {
    return this.bySubscriber.get(subscriber) ?? EMPTY;
  }

  get channelCount(): number {
    return this.byChannel.size;
  }

  get subscriberCount(): number {
    return this.bySubscriber.size;
  }

  private unlink(key: string, subscriber: S): void {
    const set = this.byChannel.get(key);
    if (!set) return;
    set.delete(subscriber);
    if (set.size === 0) this.byChannel.delete(key);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
