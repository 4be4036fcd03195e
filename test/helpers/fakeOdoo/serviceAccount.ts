/**
 * PostgreSQL and PgBouncer refuse to run as root. When the tests run as root (containers, CI
 * runners), the servers they start run as the `postgres` system account instead; otherwise they run
 * as the current user and nothing needs changing hands.
 */
import { execFileSync } from 'node:child_process';
import { chown, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface ServiceAccount {
  uid: number;
  gid: number;
}

const SERVICE_USER = 'postgres';

let cached: ServiceAccount | null | undefined;

/** The account servers must run as, or `null` when the current user can run them itself. */
export function serviceAccount(): ServiceAccount | null {
  if (cached !== undefined) return cached;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    cached = null;
    return cached;
  }
  const id = (flag: string): number => {
    const out = execFileSync('id', [flag, SERVICE_USER], { encoding: 'utf8' }).trim();
    const value = Number.parseInt(out, 10);
    if (!Number.isInteger(value)) throw new Error(`id ${flag} ${SERVICE_USER} printed ${out}`);
    return value;
  };
  try {
    cached = { uid: id('-u'), gid: id('-g') };
  } catch (error) {
    throw new Error(
      `running as root, and no "${SERVICE_USER}" system user to run PostgreSQL/PgBouncer as: apt-get install postgresql creates it`,
      { cause: error },
    );
  }
  return cached;
}

/** Gives `path` (recursively) to the service account, so a server started as that user can use it. */
export async function handToServiceAccount(path: string): Promise<void> {
  const account = serviceAccount();
  if (account === null) return;
  await chown(path, account.uid, account.gid);
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await handToServiceAccount(child);
    else await chown(child, account.uid, account.gid);
  }
}
