/**
 * Who listens to what: channel key ↔ subscriber, both directions, nothing else (no I/O, no timers).
 * Replacing a subscriber's channels or removing it costs O(its channels), never O(all channels),
 * and an emptied channel entry is deleted at once so the map does not grow with history.
 *
 * Memory per subscriber is the sidecar's largest cost, so: a channel with one subscriber (a
 * partner's own channel, most chats) maps straight to it, without a Set; a channel with several
 * keeps its key with its Set, and subscribers list that instance, so the thousands of subscribers
 * of a shared channel do not each keep a copy of its key; each subscriber's keys are an array of
 * exactly their number. Subscribers must not themselves be `Shared` instances.
 */
class Shared<S> {
  constructor(
    readonly key: string,
    readonly members: Set<S>,
  ) {}
}

type Members<S> = S | Shared<S>;

export class Registry<S> {
  private readonly byChannel = new Map<string, Members<S>>();
  private readonly bySubscriber = new Map<S, readonly string[]>();
  /** Subscriber-channel pairs, kept as subscriptions change (read by the metrics). */
  private links = 0;

  /** Makes `keys` the whole subscription of `subscriber`. */
  replace(subscriber: S, keys: Iterable<string>): void {
    const wanted = new Set(keys);
    const previous = this.bySubscriber.get(subscriber);
    if (previous) {
      for (const key of previous) if (!wanted.has(key)) this.unlink(key, subscriber);
      this.links -= previous.length;
    }
    this.links += wanted.size;
    const next: string[] = new Array(wanted.size);
    let i = 0;
    for (const key of wanted) next[i++] = this.link(key, subscriber);
    if (next.length === 0) this.bySubscriber.delete(subscriber);
    else this.bySubscriber.set(subscriber, next);
  }

  remove(subscriber: S): void {
    const keys = this.bySubscriber.get(subscriber);
    if (!keys) return;
    for (const key of keys) this.unlink(key, subscriber);
    this.links -= keys.length;
    this.bySubscriber.delete(subscriber);
  }

  subscribersOf(key: string): ReadonlySet<S> | undefined {
    const members = this.byChannel.get(key);
    if (members === undefined) return undefined;
    return members instanceof Shared ? members.members : new Set([members]);
  }

  channelsOf(subscriber: S): ReadonlySet<string> {
    const keys = this.bySubscriber.get(subscriber);
    return keys ? new Set(keys) : EMPTY;
  }

  get channelCount(): number {
    return this.byChannel.size;
  }

  get subscriberCount(): number {
    return this.bySubscriber.size;
  }

  /** Subscriptions: one per subscriber and channel. */
  get subscriptionCount(): number {
    return this.links;
  }

  /**
   * The `limit` channels with the most subscribers (at least two: a channel of one is somebody's
   * own), most first. Walks every channel: for the status page, not for a hot path.
   */
  topChannels(limit: number): Array<{ key: string; subscribers: number }> {
    const top: Array<{ key: string; subscribers: number }> = [];
    for (const members of this.byChannel.values()) {
      if (!(members instanceof Shared)) continue;
      const subscribers = members.members.size;
      if (top.length === limit && subscribers <= (top[limit - 1]?.subscribers ?? 0)) continue;
      let at = top.length;
      while (at > 0 && (top[at - 1]?.subscribers ?? 0) < subscribers) at--;
      top.splice(at, 0, { key: members.key, subscribers });
      if (top.length > limit) top.pop();
    }
    return top;
  }

  /** Adds `subscriber` to the channel; returns the key instance the registry keeps. */
  private link(key: string, subscriber: S): string {
    const members = this.byChannel.get(key);
    if (members === undefined) {
      this.byChannel.set(key, subscriber);
      return key;
    }
    if (members instanceof Shared) {
      members.members.add(subscriber);
      return members.key;
    }
    if (members !== subscriber) {
      this.byChannel.set(key, new Shared(key, new Set([members, subscriber])));
    }
    return key;
  }

  private unlink(key: string, subscriber: S): void {
    const members = this.byChannel.get(key);
    if (members === undefined) return;
    if (!(members instanceof Shared)) {
      if (members === subscriber) this.byChannel.delete(key);
      return;
    }
    members.members.delete(subscriber);
    if (members.members.size === 1) {
      const [last] = members.members;
      this.byChannel.set(key, last as S);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();
