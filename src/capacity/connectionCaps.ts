/**
 * Places for connections held open (websockets, long polls), overall and per client address.
 * Each costs a file descriptor, and the process has a fixed number of them: without caps, one
 * client holding thousands of sockets leaves none for other users, nor for the health probes and
 * the connections to PostgreSQL and Odoo.
 */
import type { Duplex } from 'node:stream';

export type ConnectionRefusal = 'total' | 'address';

/** The address whose place a connection holds, on the connection itself (no map, no closure). */
const HELD_BY = Symbol('heldBy');
type Holder = Duplex & { [HELD_BY]?: string };

export class ConnectionCaps {
  private held = 0;
  private readonly byAddress = new Map<string, number>();
  /** One listener for every connection: gives back its place when it closes. */
  private readonly releaseOnClose: (this: Holder) => void;

  constructor(
    readonly total: number,
    readonly perAddress: number,
    private readonly onChange?: (held: number) => void,
  ) {
    const caps = this;
    this.releaseOnClose = function (this: Holder) {
      const address = this[HELD_BY];
      this[HELD_BY] = undefined;
      if (address !== undefined) caps.release(address);
    };
  }

  get count(): number {
    return this.held;
  }

  countOf(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }

  /** Takes a place for one connection of `address`; says which cap refuses it otherwise. */
  take(address: string): ConnectionRefusal | undefined {
    if (this.held >= this.total) return 'total';
    const mine = this.byAddress.get(address) ?? 0;
    if (mine >= this.perAddress) return 'address';
    this.byAddress.set(address, mine + 1);
    this.held++;
    this.onChange?.(this.held);
    return undefined;
  }

  /**
   * Takes a place for a TCP connection of `address`, given back when the connection closes,
   * whatever happens to it meanwhile (an upgrade that never completes included).
   */
  takeFor(connection: Duplex, address: string): ConnectionRefusal | undefined {
    // Already closed, it would never give its place back; it holds nothing either.
    if (connection.closed) return undefined;
    const refusal = this.take(address);
    if (refusal !== undefined) return refusal;
    (connection as Holder)[HELD_BY] = address;
    connection.on('close', this.releaseOnClose);
    return undefined;
  }

  /**
   * From now on the place `connection` holds is given back by `releaseHeld`, called by its new
   * owner when the connection ends, not by a `close` listener of its own: a second listener of an
   * event costs the connection a listener array (about a hundred bytes, for its whole life).
   */
  handOver(connection: Duplex): void {
    connection.removeListener('close', this.releaseOnClose);
  }

  /** Gives back the place `connection` holds, if it still holds one (see `handOver`). */
  releaseHeld(connection: Duplex): void {
    this.releaseOnClose.call(connection);
  }

  /** Gives back a place taken by `take` (exactly once per place). */
  release(address: string): void {
    const mine = this.byAddress.get(address);
    if (mine === undefined) return;
    if (mine <= 1) this.byAddress.delete(address);
    else this.byAddress.set(address, mine - 1);
    this.held--;
    this.onChange?.(this.held);
  }
}
