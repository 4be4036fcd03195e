/**
 * Bounded, fair concurrency for calls to Odoo. Odoo's HTTP workers are few (`workers = 2` is
 * common), each serves one request at a time, and they also serve the browsers' own pages: the
 * sidecar may hold only `slots` of them, and a reconnect storm or a flood must queue here instead
 * of exhausting them ("Connection Pool Is Full").
 *
 * Who waits is decided per client, not by arrival:
 * - waiting calls are grouped by client address, and within an address by session; a free slot goes
 *   round-robin to the next address, and within it to the next session, so a flood from one address
 *   (or one session) delays nobody else by more than one call per turn;
 * - one address holds at most `slotsPerAddress` of the slots and `placesPerAddress` of the places,
 *   so slow calls of one client can never take every worker, nor its queue every place;
 * - a call waits at most `waitMs` for a slot (then `QueueDeadlineError`), and leaves the queue at
 *   once when its client is gone (its `signal` aborts), without ever reaching Odoo.
 *
 * A call already sent to Odoo is not cut short when its client leaves: Odoo's worker would go on
 * with it anyway, and freeing its slot early would let more work onto a busy worker.
 */

/** Whom a call is made for. */
export interface CallKey {
  /** The client's address (see `clientAddress`). */
  address: string;
  /** The session id the call carries ('' without one). */
  session: string;
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

/** This client already holds its share of the places. */
export class ClientQueueFullError extends QueueFullError {
  override name = 'ClientQueueFullError';
}

/** The call waited `waitMs` without getting a slot. */
export class QueueDeadlineError extends QueueFullError {
  override name = 'QueueDeadlineError';
}

/** The caller gave up (its socket closed, its request ended) while the call was still waiting. */
export class CallAbandonedError extends Error {
  override name = 'CallAbandonedError';
}

export type Refusal = 'full' | 'clientFull' | 'deadline' | 'abandoned';

export interface LimiterOptions {
  /** Calls in flight at once. */
  slots: number;
  /** Calls waiting at once, all clients together. */
  places: number;
  /** Calls in flight at once for one client address. */
  slotsPerAddress: number;
  /** Calls waiting at once for one client address. */
  placesPerAddress: number;
  /** Longest wait for a slot, in milliseconds. */
  waitMs: number;
  /** Monotonic milliseconds (tests drive their own clock and call `expire`). */
  now?: () => number;
  onChange?: (active: number, queued: number) => void;
  onRefused?: (refusal: Refusal) => void;
}

interface Waiter {
  readonly client: ClientState;
  readonly session: string;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly wake: () => void;
  readonly fail: (error: Error) => void;
  onAbort: (() => void) | undefined;
  settled: boolean;
}

interface ClientState {
  readonly address: string;
  active: number;
  queued: number;
  /** Waiting calls per session, in arrival order; the map's order is the round-robin order. */
  readonly sessions: Map<string, Waiter[]>;
  /** The session whose call started last: it goes after the others at the next turn. */
  lastSession: string | undefined;
}

export class Limiter {
  private active = 0;
  private waiting = 0;
  private readonly clients = new Map<string, ClientState>();
  /** Clients with waiting calls; the set's order is the round-robin order. */
  private readonly ready = new Set<ClientState>();
  /** The client whose call started last: it goes after the others at the next turn. */
  private lastClient: ClientState | undefined;
  /** Every waiter in arrival order, which is deadline order (one `waitMs` for all). */
  private order: Waiter[] = [];
  private orderHead = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly options: LimiterOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  get slots(): number {
    return this.options.slots;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting;
  }

  /** Calls in flight and waiting for one client address. */
  clientLoad(address: string): { active: number; queued: number } {
    const client = this.clients.get(address);
    return { active: client?.active ?? 0, queued: client?.queued ?? 0 };
  }

  /** Runs `task` once a slot is free for this client (see the module comment). */
  async run<T>(task: () => Promise<T>, key: CallKey, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) {
      this.options.onRefused?.('abandoned');
      throw new CallAbandonedError('abandoned before it was queued');
    }
    const client = this.client(key.address);
    // Invariant: whenever a slot is free, no waiting call could take it (its client is at its
    // share), so a caller that may run now takes the slot without queueing behind anyone.
    if (this.active < this.options.slots && client.active < this.options.slotsPerAddress) {
      this.start(client, key.session);
    } else {
      await this.enqueue(client, key.session, signal);
    }
    try {
      return await task();
    } finally {
      this.finish(client);
    }
  }

  /** Refuses every waiting call whose deadline has passed (also run by a timer). */
  expire(now: number = this.now()): void {
    while (this.orderHead < this.order.length) {
      const waiter = this.order[this.orderHead] as Waiter;
      if (!waiter.settled) {
        if (waiter.deadline > now) break;
        this.remove(waiter);
        this.forgetIfIdle(waiter.client);
        this.options.onRefused?.('deadline');
        waiter.fail(
          new QueueDeadlineError(`no slot for a call to Odoo within ${this.options.waitMs} ms`),
        );
      }
      this.orderHead++;
    }
    this.compactOrder();
    this.armTimer();
    this.changed();
  }

  private client(address: string): ClientState {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = { address, active: 0, queued: 0, sessions: new Map(), lastSession: undefined };
      this.clients.set(address, client);
    }
    return client;
  }

  private start(client: ClientState, session: string): void {
    this.active++;
    client.active++;
    client.lastSession = session;
    this.lastClient = client;
    this.changed();
  }

  private finish(client: ClientState): void {
    this.active--;
    client.active--;
    this.dispatch();
    this.forgetIfIdle(client);
    this.changed();
  }

  private enqueue(client: ClientState, session: string, signal: AbortSignal | undefined) {
    if (client.queued >= this.options.placesPerAddress) {
      this.forgetIfIdle(client);
      this.options.onRefused?.('clientFull');
      throw new ClientQueueFullError(
        `this client already has ${client.queued} calls to Odoo waiting`,
      );
    }
    if (this.waiting >= this.options.places) {
      this.forgetIfIdle(client);
      this.options.onRefused?.('full');
      throw new QueueFullError(`${this.waiting} calls to Odoo already waiting`);
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        client,
        session,
        deadline: this.now() + this.options.waitMs,
        signal,
        wake: resolve,
        fail: reject,
        onAbort: undefined,
        settled: false,
      };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          if (waiter.settled) return;
          this.remove(waiter);
          this.options.onRefused?.('abandoned');
          this.forgetIfIdle(client);
          this.changed();
          reject(new CallAbandonedError('abandoned while waiting for a slot'));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      let queue = client.sessions.get(session);
      if (queue === undefined) {
        queue = [];
        client.sessions.set(session, queue);
      }
      queue.push(waiter);
      client.queued++;
      this.waiting++;
      this.ready.add(client);
      this.order.push(waiter);
      this.compactOrder();
      this.armTimer();
      this.changed();
    });
  }

  /** Hands free slots to waiting calls, round-robin over clients, then over their sessions. */
  private dispatch(): void {
    if (this.waiting === 0 || this.active >= this.options.slots) return;
    const last = this.lastClient;
    if (last !== undefined && this.ready.size > 1 && this.ready.has(last)) {
      this.ready.delete(last);
      this.ready.add(last);
    }
    for (const client of this.ready) {
      if (this.active >= this.options.slots) return;
      if (client.active >= this.options.slotsPerAddress) continue;
      const waiter = this.nextOf(client);
      if (waiter === undefined) continue;
      // The client goes to the back of the round (a Set keeps insertion order): iterating a Set
      // visits entries added during the loop, so a client with more waiting can take another
      // free slot in this same pass once the others had theirs.
      this.ready.delete(client);
      if (client.queued > 0) this.ready.add(client);
      this.active++;
      client.active++;
      client.lastSession = waiter.session;
      this.lastClient = client;
      waiter.wake();
    }
  }

  /** Takes the next waiter of a client: its next session's oldest call. */
  private nextOf(client: ClientState): Waiter | undefined {
    const last = client.lastSession;
    if (last !== undefined && client.sessions.size > 1) {
      const queue = client.sessions.get(last);
      if (queue !== undefined) {
        client.sessions.delete(last);
        client.sessions.set(last, queue);
      }
    }
    for (const [session, queue] of client.sessions) {
      const waiter = queue.shift();
      client.sessions.delete(session);
      if (queue.length > 0) client.sessions.set(session, queue);
      if (waiter === undefined) continue;
      this.settle(waiter);
      client.queued--;
      this.waiting--;
      return waiter;
    }
    return undefined;
  }

  /** Takes a waiter out of the queue (deadline passed, or its client left). */
  private remove(waiter: Waiter): void {
    const { client } = waiter;
    const queue = client.sessions.get(waiter.session);
    const index = queue?.indexOf(waiter) ?? -1;
    if (queue !== undefined && index >= 0) {
      queue.splice(index, 1);
      if (queue.length === 0) client.sessions.delete(waiter.session);
    }
    this.settle(waiter);
    client.queued--;
    this.waiting--;
    if (client.queued === 0) this.ready.delete(client);
  }

  private settle(waiter: Waiter): void {
    waiter.settled = true;
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.onAbort = undefined;
  }

  private forgetIfIdle(client: ClientState): void {
    if (client.active !== 0 || client.queued !== 0) return;
    this.clients.delete(client.address);
    if (this.lastClient === client) this.lastClient = undefined;
  }

  /** Drops settled waiters from the head of the arrival order, and from the rest when many. */
  private compactOrder(): void {
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (this.order.length - this.orderHead > 2 * this.waiting + 1024) {
      this.order = this.order.slice(this.orderHead).filter((w) => !w.settled);
      this.orderHead = 0;
    }
  }

  /** One timer, due at the oldest waiter's deadline. */
  private armTimer(): void {
    while (this.orderHead < this.order.length && this.order[this.orderHead]?.settled)
      this.orderHead++;
    const oldest = this.order[this.orderHead];
    if (oldest === undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.timer !== undefined && this.timerDue <= oldest.deadline) return;
    clearTimeout(this.timer);
    this.timerDue = oldest.deadline;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerDue = Number.POSITIVE_INFINITY;
        this.expire();
      },
      Math.max(0, oldest.deadline - this.now()),
    );
    this.timer.unref();
  }

  private changed(): void {
    this.options.onChange?.(this.active, this.waiting);
  }
}
