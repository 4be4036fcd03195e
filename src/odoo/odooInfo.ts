/**
 * What the sidecar knows about the Odoo it serves: its major version (route shapes differ) and its
 * current websocket worker version (for `OUTDATED_VERSION`). Settings win; otherwise the addon's info
 * route is asked at start and every `refreshMs` (an Odoo upgrade changes the worker version without
 * restarting the sidecar). Unknown worker version: no version check, old clients keep working.
 */
import type { Logger } from '../observability/logger.js';
import type { OdooClient, OdooInfo } from './client.js';

const FIRST_ANSWER_RETRY_MS = 2000;

export interface OdooInfoOptions {
  odoo: OdooClient;
  secret: string | undefined;
  refreshMs: number;
  workerVersion: string | undefined;
  major: number | undefined;
  logger: Logger;
}

export class OdooInfoSource {
  private info: OdooInfo | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastAnswerAt = 0;
  private stopped = false;

  constructor(private readonly options: OdooInfoOptions) {}

  async start(): Promise<void> {
    if (this.options.secret === undefined) {
      this.options.logger.info(
        {
          workerVersion: this.options.workerVersion ?? null,
          odooVersion: this.options.major ?? 'unknown',
        },
        'no bus_sidecar secret set: Odoo version taken from settings only',
      );
      return;
    }
    await this.refresh();
    this.schedule();
  }

  /** Until the first answer, ask again soon (Odoo may simply be starting); then every `refreshMs`. */
  private schedule(): void {
    const delay =
      this.info === undefined
        ? Math.min(FIRST_ANSWER_RETRY_MS, this.options.refreshMs)
        : this.options.refreshMs;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => {
        if (!this.stopped) this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  workerVersion(): string | null {
    return this.options.workerVersion ?? this.info?.workerVersion ?? null;
  }

  major(): number | undefined {
    return this.options.major ?? this.info?.major;
  }

  /** When the info route last answered (0: never); readiness uses it when a secret is set. */
  get answeredAt(): number {
    return this.lastAnswerAt;
  }

  get required(): boolean {
    return this.options.secret !== undefined;
  }

  private async refresh(): Promise<void> {
    const secret = this.options.secret;
    if (secret === undefined) return;
    const info = await this.options.odoo.info(secret);
    if (!info) return;
    const changed =
      info.workerVersion !== this.info?.workerVersion || info.major !== this.info?.major;
    this.info = info;
    this.lastAnswerAt = Date.now();
    if (changed) {
      this.options.logger.info(
        { odooVersion: info.serverVersion, workerVersion: info.workerVersion },
        'Odoo version learned from the bus_sidecar addon',
      );
    }
  }
}
