/**
 * A socket's subscription: Odoo decides. `/websocket/peek_notifications` is called with the
 * browser's cookies; the channels it returns become the subscription, the notifications it returns
 * are sent first, merged with what the reader read meanwhile (`../handOff.ts`: no gap, no
 * duplicate). One subscribe runs at a time; a newer one arriving meanwhile replaces any waiting
 * one. Every `sessionRecheckSeconds` (and at once when the addon names the user's partner) the
 * subscription is asked again; a session Odoo calls expired closes with 4001.
 *
 * Made at the socket's first subscribe message; holds the hand-off only while a subscribe is out
 * or it remembers ids.
 */

import type { ReaderView } from '../../bus/readerView.js';
import type { Notification } from '../../bus/types.js';
import { subscriptionCost } from '../../capacity/subscriptionBudget.js';
import { EncodedBatch } from '../../hub/encodedBatch.js';
import type { RpcOutcome } from '../../odoo/client.js';
import { PeekResultError, readPeekResult } from '../../odoo/peek.js';
import { CloseCode } from '../closeCodes.js';
import { HandOff } from '../handOff.js';
import { adoptSession, callOdoo } from './odooCalls.js';
import type { OdooSocket } from './odooSocket.js';
import { wholeMs } from './socketContext.js';

interface SubscribeRequest {
  channels: string[];
  last: number;
  /** A re-validation asks for the same channels and ignores Odoo's catch-up. */
  recheck: boolean;
}

const PEEK = '/websocket/peek_notifications';

export class Subscription {
  /** The channels the client asked for (a re-validation asks for them again). */
  private channels: string[] = [];
  /** What `channels` counts against the subscription caps (`SubscriptionBudget`). */
  private cost = 0;
  private pending: SubscribeRequest | undefined;
  /** Contract 5 around a subscribe; only while a subscribe is out or it remembers ids. */
  private handOff: HandOff | undefined;
  /** The valid `last` the client came with: it holds every row up to it. */
  private heldUpTo = 0;
  /** When the next re-validation is due, in whole ms (`wholeMs`); -1 before the first grant. */
  private nextRecheckAt = -1;

  constructor(private readonly socket: OdooSocket) {}

  get acceptsAll(): boolean {
    return this.handOff?.acceptsAll ?? true;
  }

  accepts(id: number): boolean {
    return this.handOff?.accepts(id) ?? true;
  }

  frameSent(lastId: number): void {
    this.handOff?.frameSent(lastId);
  }

  /** The client's `subscribe`. */
  request(channels: string[], last: number): void {
    if (!this.charge(channels)) return;
    this.channels = channels;
    this.queue({ channels, last: Math.max(0, last), recheck: false });
  }

  /** Asks Odoo again now (the addon named this user, or the periodic re-check is due). */
  recheck(): void {
    if (this.socket.phase !== 'subscribed') return;
    this.queue({ channels: this.channels, last: 0, recheck: true });
  }

  /** The socket's sweep: a re-validation when due, and the hand-off's memory expires. */
  sweep(now: number): void {
    const { settings, readers } = this.socket.context;
    if (this.nextRecheckAt >= 0 && now >= this.nextRecheckAt) {
      this.nextRecheckAt = recheckAfter(now, settings.sessionRecheckMs);
      this.recheck();
    }
    if (this.handOff !== undefined) {
      const db = this.socket.db;
      this.handOff.expire(
        db ? readers.existingReader(db) : undefined,
        now,
        settings.lateCommitWindowMs,
      );
      if (this.handOff.idle) this.handOff = undefined;
    }
  }

  /** The socket stopped taking rows: what the hand-off remembers goes to the client's next one. */
  stop(): void {
    const { socket } = this;
    const handOff = this.handOff;
    this.handOff = undefined;
    if (handOff === undefined || socket.sessionHash === undefined) return;
    handOff.end();
    const { readers, handOffs, clock } = socket.context;
    const reader = socket.db ? readers.existingReader(socket.db) : undefined;
    const carried = handOff.carry(socket.db, socket.lastSentId, reader?.readCount ?? 0);
    if (carried !== undefined) handOffs.park(socket.sessionHash, carried, clock());
  }

  /** Gives back what the channel list counted (the socket stopped taking part in delivery). */
  release(): void {
    this.socket.context.subscriptions.release(this.socket.browser.address, this.cost);
    this.cost = 0;
  }

  /**
   * Counts a new channel list against the caps of this client's address and of all: past one, the
   * socket closes with 1013 (the client retries with backoff) rather than hold a subscription
   * nobody else may hold; it gives back what it held when it ends.
   */
  private charge(channels: readonly string[]): boolean {
    const cost = subscriptionCost(channels);
    const { socket } = this;
    const { subscriptions, metrics } = socket.context;
    const over = subscriptions.charge(socket.browser.address, this.cost, cost);
    if (over === undefined) {
      this.cost = cost;
      return true;
    }
    metrics.subscriptionsRefused.labels('websocket', over).inc();
    socket.logLimited('ws-subscriptions-capped', (log, note) =>
      log.warn(
        { db: socket.db, channels: channels.length, cap: over, ...note },
        over === 'address'
          ? 'subscribe refused: the channel lists of this address passed maxSubscribedBytesPerAddress'
          : 'subscribe refused: the channel lists of all sockets passed maxSubscribedBytes',
      ),
    );
    socket.close(CloseCode.TRY_LATER, '');
    return false;
  }

  private queue(request: SubscribeRequest): void {
    if (this.handOff?.subscribing) {
      // A real subscribe supersedes a waiting re-validation (it validates the session too).
      if (!request.recheck || this.pending === undefined) this.pending = request;
      return;
    }
    this.start(request);
  }

  private start(request: SubscribeRequest): void {
    this.run(request).catch((error: unknown) => this.socket.caught('subscribe', error));
  }

  private async run(request: SubscribeRequest): Promise<void> {
    const { socket } = this;
    const { readers } = socket.context;
    const handOff = this.handOff ?? new HandOff();
    this.handOff = handOff;
    handOff.begin(readers.readCounts());
    const reader = socket.db ? readers.existingReader(socket.db) : undefined;
    const sentAny = socket.lastSentId > 0;
    // A re-validation only wants the channel list: ask from the current read position.
    const last = request.recheck
      ? (reader?.position ?? socket.lastSentId)
      : sentAny
        ? Math.max(socket.lastSentId, this.heldUpTo)
        : request.last;
    try {
      const outcome = await callOdoo(socket, PEEK, {
        channels: request.channels,
        last,
        is_first_poll: socket.phase !== 'subscribed',
      });
      if (socket.isClosing) return;
      await this.apply(outcome, request, last, sentAny);
    } catch (error) {
      socket.caught('subscribe', error);
      socket.close(CloseCode.SERVER_ERROR, '');
    } finally {
      handOff.end();
      if (this.handOff === handOff && handOff.idle) this.handOff = undefined;
      const next = this.pending;
      this.pending = undefined;
      if (next && !socket.isClosing) this.start(next);
    }
  }

  private async apply(
    outcome: RpcOutcome,
    request: SubscribeRequest,
    last: number,
    sentAny: boolean,
  ): Promise<void> {
    const { socket } = this;
    const { context } = socket;
    adoptSession(socket, outcome);
    if (outcome.kind === 'sessionExpired') {
      socket.close(CloseCode.SESSION_EXPIRED, '');
      return;
    }
    if (outcome.kind === 'unavailable') {
      socket.logLimited('ws-subscribe-unavailable', (log, note) =>
        log.warn(
          { reason: outcome.reason, detail: outcome.detail, db: socket.db, ...note },
          'Odoo could not answer a subscribe',
        ),
      );
      socket.close(
        outcome.reason === 'queueFull' ? CloseCode.TRY_LATER : CloseCode.BAD_GATEWAY,
        '',
      );
      return;
    }
    if (outcome.kind === 'notFound') {
      socket.log.error(
        { route: PEEK },
        'Odoo has no /websocket/peek_notifications route (Odoo 16+ is required for websockets)',
      );
      socket.close(CloseCode.BAD_GATEWAY, '');
      return;
    }
    if (outcome.kind === 'rpcError') {
      // Odoo logs such errors and keeps the socket open; so do we. The session may not have been
      // marked as a websocket session, so the next subscribe asks again as a first poll.
      socket.firstSubscribeRefused();
      socket.logLimited('ws-subscribe-refused', (log, note) =>
        log.warn(
          { code: outcome.code, error: outcome.name, message: outcome.message, ...note },
          'Odoo refused a subscribe',
        ),
      );
      return;
    }
    let result: ReturnType<typeof readPeekResult>;
    try {
      result = readPeekResult(outcome.text, outcome.result, outcome.cut);
    } catch (error) {
      socket.log.warn(
        { err: error instanceof PeekResultError ? error.message : error },
        'unreadable subscribe answer from Odoo',
      );
      socket.close(CloseCode.BAD_GATEWAY, '');
      return;
    }
    this.markSubscribed();
    const db = result.database ?? socket.db;
    if (db === undefined) return;
    if (!context.servesDatabase(db)) {
      socket.log.warn({ db }, 'socket refused: its database is not served by this sidecar');
      socket.close(CloseCode.POLICY_VIOLATION, 'database not served');
      return;
    }
    const reader = context.readers.reader(db);
    try {
      await reader.ready();
    } catch (error) {
      socket.log.warn({ err: error, db }, 'cannot read bus_bus of this database yet');
      socket.close(CloseCode.TRY_LATER, '');
      return;
    }
    if (socket.isClosing) return;
    if (socket.db !== db) {
      context.hub.unsubscribe(socket);
      // The reader's own string: every socket of a database shares it.
      socket.db = reader.database;
    }
    this.deliver(result, request, reader, db, last, sentAny);
  }

  /** Odoo's answer, merged by the hand-off (see the module comment). */
  private deliver(
    result: ReturnType<typeof readPeekResult>,
    request: SubscribeRequest,
    reader: ReaderView,
    db: string,
    last: number,
    sentAny: boolean,
  ): void {
    const { socket } = this;
    const { context } = socket;
    const handOff = this.handOff;
    if (handOff === undefined) return;
    // The client coming back (this socket has sent nothing yet): what its previous socket knew.
    const comingBackFrom = !request.recheck && !sentAny && last > 0 ? last : 0;
    if (comingBackFrom > 0 && socket.sessionHash !== undefined) {
      const carried = context.handOffs.take(socket.sessionHash, db, last);
      if (carried !== undefined) handOff.adopt(carried);
    }
    const now = context.clock();
    if (result.partial && !request.recheck) {
      const rows = handOff.part(
        result.notifications,
        reader,
        db,
        new Set(result.channels),
        last,
        comingBackFrom,
        now,
      );
      this.sendPart(rows);
      return;
    }
    context.hub.subscribe(socket, result.channels);
    // Odoo replays nothing at or below a valid `last`; neither do we.
    const validLast = !request.recheck && last > 0 && last <= reader.position;
    const rows = handOff.catchUp(
      {
        reader,
        database: db,
        channels: context.hub.registry.channelsOf(socket),
        odoo: request.recheck ? [] : result.notifications,
        floor: validLast ? last : 0,
        comingBackFrom,
      },
      now,
    );
    // A later subscribe asks from there even if this socket only sent late rows below it.
    if (validLast && !sentAny) this.heldUpTo = Math.max(this.heldUpTo, last);
    if (rows.length > 0) socket.write(new EncodedBatch(rows));
  }

  /**
   * Odoo's catch-up was larger than one answer may be (`maxCallAnswerBytes`): its first rows, in
   * id order, are all this socket can be sent without a gap. They are sent, then the socket
   * closes with 4002, on which Odoo's client reconnects at once and subscribes again with the last
   * id it received, and Odoo answers the next part. Meanwhile the socket takes no live row: a newer
   * one would move the client's `last` past rows not sent yet (contract 5). Odoo is not told the
   * user left (`on_closed`): the client is back at once.
   */
  private sendPart(rows: readonly Notification[]): void {
    const { socket } = this;
    socket.context.metrics.catchUpParts.labels('websocket').inc();
    socket.log.info(
      { db: socket.db, rows: rows.length, upTo: rows.at(-1)?.id },
      'catch-up larger than one answer of Odoo: sent in parts, the client resumes from the last row',
    );
    socket.phase = 'handedOver';
    if (rows.length > 0) socket.write(new EncodedBatch(rows));
    socket.close(CloseCode.KEEP_ALIVE_TIMEOUT, '');
  }

  private markSubscribed(): void {
    const { socket } = this;
    if (socket.phase !== 'subscribed') {
      const { sessionRecheckMs } = socket.context.settings;
      this.nextRecheckAt = recheckAfter(socket.context.clock(), sessionRecheckMs);
    }
    socket.subscribed();
  }
}

/** Spread over ±25% of the period: sockets opened together do not ask Odoo together. */
function recheckAfter(now: number, periodMs: number): number {
  return wholeMs(now + periodMs * (0.75 + Math.random() * 0.5));
}
