/**
 * Temp directories of servers whose test process was killed: the guard stopped the server, but
 * nobody deleted its files. A directory is abandoned when it is old enough not to be one another
 * worker is setting up right now, and its server's pid file names no living process.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MIN_AGE_MS = 10 * 60_000;

async function serverAlive(pidFile: string): Promise<boolean> {
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  const pid = Number.parseInt(text?.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<tmpdir>/<prefix>*` directories whose `pidFile` (relative path) is stale or missing. */
export async function removeAbandonedDirs(prefix: string, pidFile: string): Promise<void> {
  const cutoff = Date.now() - MIN_AGE_MS;
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const path = join(tmpdir(), name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isDirectory() || info.mtimeMs >= cutoff) continue;
    if (await serverAlive(join(path, pidFile))) continue;
    await rm(path, { recursive: true, force: true });
  }
}
