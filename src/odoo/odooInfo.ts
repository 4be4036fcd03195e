/**
 * What the sidecar knows about the Odoo it serves, and whether Odoo answers at all (readiness):
 * its major version (the generation: route shapes differ) and its current websocket worker version
 * (for `OUTDATED_VERSION`). Settings win for the versions; Odoo is asked at start and every
 * `refreshMs` all the same, since an Odoo that does not answer cannot authorize a subscribe:
 * - with a shared secret, the `bus_sidecar` addon's info route: major and worker version;
 * - without one, or when the addon does not answer (not loaded: 404; secret refused: 403), Odoo's
 *   own `/web/webclient/version_info` (JSON-RPC, `auth='none'`: no session, no database, no addon;
 *   every version from 12 to 19 has it): the major version, and that Odoo answers.
 *
 * An addon that does not answer while Odoo does is "degraded", not down: the websocket works,
 * only what needs the addon's answer is missing (`missingFeatures`). On 12-15 long polling runs
 * through the addon, so there it is down.
 *
 * While Odoo does not answer it is asked again with backoff (2 s, 4 s ... up to `refreshMs`); the
 * log says each change of state once, not each attempt.
 */
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import {
  FEATURE_KEEPS_SESSION_IDS,
  INFO_ROUTE,
  SECRET_ENV,
  SECRET_OPTION,
} from './addonContract.js';
import type { InfoOutcome, OdooClient, OdooInfo } from './client.js';
import { generationOf } from './generations.js';

const FIRST_RETRY_MS = 2000;

export interface OdooInfoOptions {
  odoo: OdooClient;
  secret: string | undefined;
  refreshMs: number;
  workerVersion: string | undefined;
  major: number | undefined;
  logger: Logger;
  metrics?: Metrics;
  /** Where Odoo is, for the messages. */
  odooUrl?: string;
  /** Clock of `answeredAt` (monotonic by default). */
  clock?: Clock;
}

type Source = 'addon' | 'version_info';

/** Why the addon's info route gives nothing (with a secret set), in words for the admin. */
type AddonProblem = 'not-loaded' | 'refused' | 'not-configured';

const ADDON_PROBLEMS: Record<AddonProblem, string> = {
  'not-loaded': `the bus_sidecar addon is not loaded in Odoo (GET ${INFO_ROUTE} answered 404): put it in the addons_path, add it to server_wide_modules in odoo.conf (server_wide_modules = base,web,bus_sidecar) or start Odoo with --load=base,web,bus_sidecar, and restart Odoo`,
  refused: `the bus_sidecar addon refused the shared secret (GET ${INFO_ROUTE} answered 403): give Odoo (${SECRET_OPTION} in odoo.conf, or ${SECRET_ENV}) the same value as the sidecar`,
  'not-configured': `Odoo has no shared secret for the bus_sidecar addon (GET ${INFO_ROUTE} answered 403): set ${SECRET_OPTION} in odoo.conf (or ${SECRET_ENV}) to the sidecar's value, and restart Odoo`,
};

/** What needs the addon's info route, by the names `/readyz` reports. */
export const ADDON_FEATURES = {
  outdatedVersionCheck:
    "outdated-version-check (pages older than Odoo's websocket worker are not told to reload)",
  sessionIds:
    "session-id-keeping (19: a session Odoo rotates on the sidecar's call is handed over by a 4002 reconnect)",
} as const;

export interface OdooHealth {
  /** Odoo answered the last check. */
  up: boolean;
  /** Why not, or why degraded. */
  problem: string | undefined;
  /** What does not work for want of the addon's answer (secret set); empty when nothing. */
  missingFeatures: string[];
}

export class OdooInfoSource {
  private info: OdooInfo | undefined;
  private source: Source | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastAnswerAt: number | undefined;
  private stopped = false;
  private failures = 0;
  /** undefined: not asked yet. */
  private answering: boolean | undefined;
  private downReason: string | undefined;
  private addonProblem: AddonProblem | undefined;

  constructor(private readonly options: OdooInfoOptions) {}

  async start(): Promise<void> {
    const { workerVersion, major, secret } = this.options;
    if (major !== undefined && (workerVersion !== undefined || secret === undefined)) {
      this.options.logger.info(
        { workerVersion: workerVersion ?? null, odooVersion: major },
        'Odoo version taken from the settings',
      );
    }
    await this.refresh();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const { refreshMs } = this.options;
    const delay =
      this.answering === true
        ? refreshMs
        : Math.min(refreshMs, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 10));
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error }, 'asking Odoo for its version failed'),
        )
        .finally(() => this.schedule());
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

  /** When the addon's info route last answered, on the clock of the options (undefined: never). */
  get answeredAt(): number | undefined {
    return this.lastAnswerAt;
  }

  /** Odoo as readiness sees it. */
  health(): OdooHealth {
    if (this.answering !== true) {
      return {
        up: false,
        problem:
          this.answering === undefined ? 'Odoo not asked yet' : (this.downReason ?? 'no answer'),
        missingFeatures: [],
      };
    }
    if (this.addonProblem === undefined)
      return { up: true, problem: undefined, missingFeatures: [] };
    const generation = generationOf(this.major());
    if (generation?.transport === 'longpolling') {
      // 12-15: every poll goes through the addon's route.
      return { up: false, problem: ADDON_PROBLEMS[this.addonProblem], missingFeatures: [] };
    }
    const missingFeatures: string[] = [];
    if (this.options.workerVersion === undefined) {
      missingFeatures.push(ADDON_FEATURES.outdatedVersionCheck);
    }
    // Unknown generation: it may be one that rotates.
    if (generation?.rotatesSessions ?? true) missingFeatures.push(ADDON_FEATURES.sessionIds);
    return { up: true, problem: ADDON_PROBLEMS[this.addonProblem], missingFeatures };
  }

  private async refresh(): Promise<void> {
    const { secret, odoo } = this.options;
    let answer: InfoOutcome | undefined;
    let source: Source = 'addon';
    if (secret !== undefined) {
      answer = await odoo.info(secret);
      this.noteAddon(answer);
      if (answer.kind === 'info') this.lastAnswerAt = (this.options.clock ?? monotonicClock)();
    }
    if (answer?.kind !== 'info') {
      // Without the addon (or while it does not answer), Odoo itself says whether it answers.
      const versionInfo = await odoo.versionInfo();
      this.noteAnswering(versionInfo);
      if (versionInfo.kind !== 'info') return;
      // Keep what the addon said last: it knows more than version_info.
      if (this.source === 'addon' && this.info) return;
      answer = versionInfo;
      source = 'version_info';
    } else {
      this.noteAnswering(answer);
    }
    this.learn(answer.info, source);
  }

  /** Says once when the addon stops or starts answering, and what to do about it. */
  private noteAddon(answer: InfoOutcome): void {
    const problem: AddonProblem | undefined =
      answer.kind === 'notFound'
        ? 'not-loaded'
        : answer.kind === 'refused'
          ? answer.notConfigured
            ? 'not-configured'
            : 'refused'
          : undefined;
    // Unreachable Odoo says nothing about the addon: keep the last word.
    if (answer.kind === 'unavailable') return;
    this.options.metrics?.addonUp.set(problem === undefined ? 1 : 0);
    if (problem === this.addonProblem) return;
    const previous = this.addonProblem;
    this.addonProblem = problem;
    if (problem !== undefined) {
      this.options.logger.error({ route: INFO_ROUTE, problem }, ADDON_PROBLEMS[problem]);
    } else if (previous !== undefined) {
      this.options.logger.info({ route: INFO_ROUTE }, 'the bus_sidecar addon answers again');
    }
  }

  private noteAnswering(answer: InfoOutcome): void {
    const up = answer.kind === 'info';
    this.failures = up ? 0 : this.failures + 1;
    this.options.metrics?.odooUp.set(up ? 1 : 0);
    const reason = up
      ? undefined
      : answer.kind === 'unavailable'
        ? answer.detail
        : answer.kind === 'notFound'
          ? '/web/webclient/version_info answered 404: is odooUrl an Odoo server?'
          : 'refused';
    const previous = this.answering;
    this.answering = up;
    this.downReason = reason;
    if (previous === up) return;
    const where = this.options.odooUrl ?? 'Odoo';
    if (!up) {
      this.options.logger.warn(
        { odooUrl: this.options.odooUrl, reason },
        `Odoo does not answer at ${where} (${reason}): subscribes fail (close 1014) until it does; asked again with backoff. Check SIDECAR_ODOO_URL (or odoo.conf http_port)`,
      );
    } else if (previous === false) {
      this.options.logger.info({ odooUrl: this.options.odooUrl }, `Odoo answers again at ${where}`);
    }
  }

  private learn(info: OdooInfo, source: Source): void {
    const changed =
      info.workerVersion !== this.info?.workerVersion ||
      info.major !== this.info?.major ||
      info.features.join() !== this.info?.features.join() ||
      source !== this.source;
    const recovered = this.info !== undefined && !changed;
    this.info = info;
    this.source = source;
    if (recovered || !changed) return;
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
