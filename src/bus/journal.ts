/**
 * The restart journal: the late-commit holes of one reader, kept in a small file so that they
 * outlive the process (a crash, `kill -9`, a restart).
 *
 * Why a file. A browser's `last` only says how far it got; whether a row below it reached it is
 * known only to the process that was serving it. A transaction that took its id before the
 * sidecar stopped and committed while it was stopped leaves no trace in `bus_bus` that tells it
 * apart from the rows around it. The holes the stopped process was watching are exactly those
 * rows: the next start reads the file, delivers the holes that have committed meanwhile to every
 * client coming back with a `last` above them, and keeps watching the others for the rest of
 * their window.
 *
 * The file is written whenever new holes are recorded, before the rows that revealed them are
 * delivered (a crash in between leaves a hole too many, never one too few), and soon after holes
 * are filled. It is replaced atomically (write, then rename), holds no message and no channel,
 * and is ignored when it names another database (`pg_database.oid`). Its times are wall-clock
 * (a monotonic clock does not survive a restart), so a wall-clock step while stopped can only
 * shorten or lengthen the carried-over window, never beyond the window itself.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';

const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Consecutive ids whose remaining windows differ by less than this share one range. */
const MERGE_MS = 1000;

const journalSchema = z.object({
  format: z.literal(1),
  database: z.string(),
  oid: z.string(),
  savedAt: z.number(),
  /** `[first id, count, ms left in the window]`. */
  holes: z
    .array(
      z.tuple([
        z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
        z.number().int().positive().max(1_000_000),
        z.number().nonnegative(),
      ]),
    )
    .max(200_000),
});

export class HoleJournal {
  private failed = false;
  private pending: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  /** The holes saved for this database (same oid), with the time left now; empty if none. */
  load(database: string, oid: string, wallNow: number): Array<[id: number, leftMs: number]> {
    let text: string;
    try {
      if (lstatSync(this.file).size > MAX_FILE_BYTES) throw new Error('file too large');
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT')
        this.logger.warn({ err: error, file: this.file }, 'restart journal unreadable, ignored');
      return [];
    }
    let saved: z.infer<typeof journalSchema>;
    try {
      saved = journalSchema.parse(JSON.parse(text));
    } catch {
      this.logger.warn({ file: this.file }, 'restart journal malformed, ignored');
      return [];
    }
    if (saved.database !== database || saved.oid !== oid) {
      this.logger.info(
        { file: this.file, database },
        'restart journal is of another database (re-created since), ignored',
      );
      return [];
    }
    // Time spent stopped counts against the window; a clock that went back gives no extra time.
    const elapsed = Math.max(0, wallNow - saved.savedAt);
    const holes: Array<[number, number]> = [];
    for (const [first, count, leftMs] of saved.holes) {
      const left = leftMs - elapsed;
      if (left <= 0) continue;
      for (let id = first; id < first + count; id++) holes.push([id, left]);
    }
    return holes;
  }

  /** Runs `save` within 100 ms, once for any number of calls meanwhile. */
  saveSoon(save: () => void): void {
    if (this.pending !== undefined) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      save();
    }, 100);
    this.pending.unref();
  }

  cancel(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
  }

  /** Replaces the file with these holes. Failures are logged once and otherwise ignored. */
  save(
    database: string,
    oid: string,
    holes: ReadonlyArray<readonly [id: number, leftMs: number]>,
    wallNow: number,
  ): void {
    const body = JSON.stringify({
      format: 1,
      database,
      oid,
      savedAt: wallNow,
      holes: ranges(holes),
    });
    const temporary = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, body, { mode: 0o600 });
      renameSync(temporary, this.file);
      if (this.failed) {
        this.failed = false;
        this.logger.info({ file: this.file }, 'restart journal written again');
      }
    } catch (error) {
      if (!this.failed)
        this.logger.warn(
          { err: error, file: this.file },
          'restart journal cannot be written: rows committing while the sidecar is stopped may be missed after a restart',
        );
      this.failed = true;
    }
  }
}

/** Sorted ids folded into `[first, count, leftMs]` ranges (the smallest `leftMs` of each). */
function ranges(holes: ReadonlyArray<readonly [number, number]>): Array<[number, number, number]> {
  const sorted = [...holes].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number, number]> = [];
  for (const [id, left] of sorted) {
    const current = out[out.length - 1];
    if (
      current !== undefined &&
      current[0] + current[1] === id &&
      Math.abs(current[2] - left) < MERGE_MS
    ) {
      current[1]++;
      current[2] = Math.min(current[2], left);
    } else out.push([id, 1, left]);
  }
  return out;
}

/**
 * The directory of the journals, or undefined when there is none. `off` disables them; no setting
 * means a private directory under the system's temporary directory, only when the port is fixed
 * (port 0 is a throwaway instance that no restart will find again).
 */
export function journalDirectory(
  setting: string | undefined,
  port: number,
  logger: Logger,
): string | undefined {
  if (setting === 'off') return undefined;
  if (setting === undefined && port === 0) return undefined;
  const uid = process.getuid?.() ?? 0;
  const dir = setting ?? join(tmpdir(), `odoo-bus-sidecar-${uid}`);
  try {
    mkdirSync(dir, { recursive: setting !== undefined, mode: 0o700 });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') {
      logger.warn({ err: error, dir }, 'restart journal directory cannot be created: not used');
      return undefined;
    }
  }
  const stat = lstatSync(dir);
  // The default lives in a shared directory: use it only if it is ours alone.
  const foreign =
    !stat.isDirectory() ||
    (setting === undefined && (stat.uid !== uid || (stat.mode & 0o077) !== 0));
  if (foreign) {
    logger.warn(
      { dir },
      'restart journal directory is not a private directory of this user: not used (set stateDir)',
    );
    return undefined;
  }
  return dir;
}

/** The journal file of one database for one sidecar instance (port and worker slot). */
export function journalFile(dir: string, port: number, slot: number, database: string): string {
  const digest = createHash('sha256').update(database).digest('hex').slice(0, 12);
  const readable = database.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
  return join(dir, `holes-${port}-${slot}-${readable}-${digest}.json`);
}
