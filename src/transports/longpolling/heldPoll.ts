/**
 * One accepted poll until its answer: answered at once with what was deliverable, or held in the
 * hub until the first batch of rows reaching it on its channels (`catchUp.ts` says which rows it
 * takes; the reader's one query per burst serves every poll), answered `[]` after the hold time
 * or at once when its session is revoked, and dropped when the browser goes away. Whatever
 * happens it is answered once: after the first answer, later rows, timers and revocations find
 * nothing to do.
 *
 * Phases: `open` (accepted) → `held` (in the hub, its timer running) → `answering` (out of the
 * hub, waiting for 12.0's im_status items, `presenceItems.ts`) → `done` (written, or dropped).
 */

import type { BusRow } from '../../bus/types.js';
import type { EncodedBatch } from '../../hub/encodedBatch.js';
import type { Hub, HubSubscriber } from '../../hub/hub.js';
import { type CaughtErrors, guarded } from '../../observability/caught.js';
import type { Metrics } from '../../observability/metrics.js';
import { generationOf } from '../../odoo/generations.js';
import type { PollNotification } from '../../odoo/pollAnswer.js';
import { deliverable } from './catchUp.js';
import { batchPayload, catchUpPayload, rowsPayload } from './envelope.js';
import type { AcceptedPoll } from './pollCall.js';
import type { PollExchange } from './replies.js';

export interface HeldPollContext {
  readonly metrics: Pick<Metrics, 'polls' | 'longPollDelivered'>;
  readonly hub: Pick<Hub<HubSubscriber>, 'subscribe' | 'unsubscribe'>;
  readonly caught: CaughtErrors;
  /** The server's polls in the hub (metrics, revocations, shutdown). */
  readonly held: { add(poll: HeldPoll): void; delete(poll: HeldPoll): void };
  /** Whether the answer needs Odoo's im_status items first (12.0), and asks for them. */
  wantsPresenceItems(poll: AcceptedPoll): boolean;
  presenceItems(poll: AcceptedPoll): Promise<PollNotification[]>;
}

type Phase = 'open' | 'held' | 'answering' | 'done';

/** How a held poll ends without rows, for its metric. */
export type EmptyEnd = 'timeout' | 'revoked';

export class HeldPoll implements HubSubscriber {
  private phase: Phase = 'open';
  private timer: NodeJS.Timeout | undefined;
  private settle!: () => void;
  /** Settles once the poll was answered or dropped. */
  readonly finished: Promise<void>;

  constructor(
    readonly poll: AcceptedPoll,
    private readonly exchange: PollExchange,
    private readonly context: HeldPollContext,
  ) {
    this.finished = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
  }

  get db(): string {
    return this.poll.db;
  }

  /** Whether the poll is still waiting for rows (in the hub). */
  get isHeld(): boolean {
    return this.phase === 'held';
  }

  /** A poll takes only some rows (`deliverable`): each is asked. */
  get acceptsAll(): boolean {
    return false;
  }

  accepts(row: BusRow): boolean {
    return this.phase === 'held' && deliverable(row, this.poll.last, this.poll.session);
  }

  /** The first batch that reaches the poll answers it. */
  send(batch: EncodedBatch): void {
    if (this.phase !== 'held') return;
    this.context.metrics.polls.labels('notified').inc();
    this.context.metrics.longPollDelivered.inc(batch.rows.length);
    if (this.context.wantsPresenceItems(this.poll)) {
      void this.withPresenceItems([...batch.rows]);
      return;
    }
    this.write(batchPayload(batch, this.withChannel));
  }

  /** Waits for rows until `holdMs` has passed (then answers `[]`), or the browser leaves. */
  hold(holdMs: number): Promise<void> {
    if (this.phase !== 'open') return this.finished;
    this.phase = 'held';
    const { caught, metrics, held, hub } = this.context;
    this.exchange.onClose(
      guarded(caught, 'longpoll', () => {
        if (this.phase === 'done') return;
        // The browser went away (or changed its channels and polls again): nothing is kept.
        metrics.polls.labels('aborted').inc();
        this.leaveHub();
        this.phase = 'done';
        this.settle();
      }),
    );
    this.timer = setTimeout(
      guarded(caught, 'longpoll', () => {
        void this.end('timeout');
      }),
      holdMs,
    );
    held.add(this);
    hub.subscribe(this, this.poll.keys);
    return this.finished;
  }

  /** Answers `[]` now, unless answered already (the hold ended, or the session was revoked). */
  end(outcome: EmptyEnd): Promise<void> {
    return this.answerRows([], outcome);
  }

  /** Answers with Odoo's answer as it is: the next poll does not take over from it. */
  answerOdoo(payload: string): Promise<void> {
    this.write(payload, false);
    return this.finished;
  }

  /** Answers with Odoo's catch-up merged with `rows`. */
  answerCatchUp(odoo: PollNotification[], rows: BusRow[]): Promise<void> {
    this.write(catchUpPayload(odoo, rows, this.withChannel));
    return this.finished;
  }

  /** Answers with `rows` (possibly none): found before holding, or the hold ended. */
  answerRows(rows: BusRow[], outcome: EmptyEnd | 'immediate'): Promise<void> {
    if (this.phase === 'answering' || this.phase === 'done') return this.finished;
    this.leaveHub();
    if (outcome !== 'immediate') this.context.metrics.polls.labels(outcome).inc();
    if (outcome !== 'revoked' && this.context.wantsPresenceItems(this.poll))
      return this.withPresenceItems(rows);
    this.write(rowsPayload(rows, this.withChannel));
    return this.finished;
  }

  private get withChannel(): boolean {
    return generationOf(this.poll.version).pollItem === 'id-channel-message';
  }

  /** Started from timers and deliveries: ends in an answer whatever happens. */
  private withPresenceItems(rows: BusRow[]): Promise<void> {
    this.leaveHub();
    void this.context.presenceItems(this.poll).then(
      (items) => this.answerCatchUp(items, rows),
      (error: unknown) => {
        this.context.caught('longpoll', error);
        return this.answerCatchUp([], rows);
      },
    );
    return this.finished;
  }

  /** Writes the answer once. */
  private write(result: Buffer | string, advance = true): void {
    if (this.phase === 'done') return;
    this.leaveHub();
    this.phase = 'done';
    const { session, reader, db } = this.poll;
    if (advance && session !== undefined) {
      // Every row read so far was offered to this poll; the next poll takes over from here.
      session.seq = reader.readCount;
      session.db = db;
    }
    this.exchange.write(result);
    this.settle();
  }

  /** No more rows, no timer: the poll is out of the hub (its answer may still be on its way). */
  private leaveHub(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.phase === 'held') {
      this.context.hub.unsubscribe(this);
      this.context.held.delete(this);
    }
    if (this.phase !== 'done') this.phase = 'answering';
  }
}
