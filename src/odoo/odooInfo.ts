/**
 * What the sidecar knows about the Odoo it serves: its major version (the generation: route shapes
 * differ) and its current websocket worker version (for `OUTDATED_VERSION`). Settings win;
 * otherwise it is learned, at start and every `refreshMs` (an Odoo upgrade changes both without
 * restarting the sidecar):
 * - with a shared secret, from the `bus_sidecar` addon's info route: major and worker version;
 * - else (or while the addon does not answer), the major version from Odoo's own
 *   `/web/webclient/version_info` (no session, no database, no addon needed). The worker version
 *   cannot be learned that way: unknown, there is no version check and old clients keep working.
 */
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { Logger } from '../observability/logger.js';
import { FEATURE_KEEPS_SESSION_IDS } from './addonContract.js';
import type { OdooClient, OdooInfo } from './client.js';

const FIRST_ANSWER_RETRY_MS = 2000;

export interface OdooInfoOptions {
  odoo: OdooClient;
  secret: string | undefined;
  refreshMs: number;
  workerVersion: string | undefined;
  major: number | undefined;
  logger: Logger;
  /** Clock of `answeredAt` (monotonic by default). */
  clock?: Clock;
}

type Source = 'addon' | 'version_info';

export class OdooInfoSource {
  private info: OdooInfo | undefined;
  private source: Source | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastAnswerAt: number | undefined;
  private stopped = false;

  constructor(private readonly options: OdooInfoOptions) {}

  async start(): Promise<void> {
    const { workerVersion, major, secret } = this.options;
    if (major !== undefined && (workerVersion !== undefined || secret === undefined)) {
      this.options.logger.info(
        { workerVersion: workerVersion ?? null, odooVersion: major },
        'Odoo version taken from the settings',
      );
      return;
    }
    await this.refresh();
    this.schedule();
  }

  /**
   * Until the first answer (the addon's, when a secret is set: readiness waits for it), ask again
   * soon (Odoo may simply be starting); then every `refreshMs`.
   */
  private schedule(): void {
    const waiting =
      this.options.secret !== undefined ? this.lastAnswerAt === undefined : this.info === undefined;
    const delay = waiting
      ? Math.min(FIRST_ANSWER_RETRY_MS, this.options.refreshMs)
      : this.options.refreshMs;
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error }, 'asking Odoo for its version failed'),
        )
        .finally(() => {
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

  /**
   * The addon keeps session ids on the sidecar's calls (19): a soft rotation the sidecar sees was
   * made by the browser itself, which already holds the new id.
   */
  keepsSessionIds(): boolean {
    return (
      this.source === 'addon' && (this.info?.features.includes(FEATURE_KEEPS_SESSION_IDS) ?? false)
    );
  }

  /** Where the learned version came from (undefined: nothing learned yet). */
  get learnedFrom(): Source | undefined {
    return this.source;
  }

  /**
   * When the addon's info route last answered, on the clock of the options (undefined: never);
   * readiness uses it when a secret is set.
   */
  get answeredAt(): number | undefined {
    return this.lastAnswerAt;
  }

  get required(): boolean {
    return this.options.secret !== undefined;
  }

  private async refresh(): Promise<void> {
    const { secret, odoo } = this.options;
    let info: OdooInfo | undefined;
    let source: Source = 'addon';
    if (secret !== undefined) {
      info = await odoo.info(secret);
      if (info) this.lastAnswerAt = (this.options.clock ?? monotonicClock)();
    }
    if (info === undefined) {
      // Without the addon (or while it does not answer), Odoo itself tells the major version.
      if (this.source === 'addon' && this.info) return; // keep what the addon said last
      info = await odoo.versionInfo();
      source = 'version_info';
    }
    if (!info) return;
    const changed =
      info.workerVersion !== this.info?.workerVersion ||
      info.major !== this.info?.major ||
      info.features.join() !== this.info?.features.join() ||
      source !== this.source;
    this.info = info;
    this.source = source;
    if (changed) {
      this.options.logger.info(
        {
          odooVersion: info.serverVersion,
          major: info.major,
          workerVersion: this.workerVersion(),
          features: info.features,
          from: source === 'addon' ? 'the bus_sidecar addon' : '/web/webclient/version_info',
        },
        source === 'addon'
          ? 'Odoo version learned from the bus_sidecar addon'
          : this.workerVersion() === null
            ? 'Odoo version learned from Odoo (no addon answer): worker version unknown, outdated clients are not told to reload'
            : 'Odoo version learned from Odoo (no addon answer)',
      );
    }
  }
}
