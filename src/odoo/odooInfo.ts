/**
 * What the sidecar knows about the Odoo it serves: its major version (route shapes differ) and its
 * current websocket worker version (for `OUTDATED_VERSION`). Settings win; otherwise the addon's info
 * route is asked at start and every `refreshMs` (an Odoo upgrade changes the worker version without
 * restarting the sidecar). Unknown worker version: no version check, old clients keep working.
 */
import type { Logger } from '../observability/logger.js';
import type { OdooClient, OdooInfo } from './client.js';

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
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
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
