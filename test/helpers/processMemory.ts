/**
 * The memory of another process as Linux reports it: its peak resident set (`VmHWM`), which can be
 * reset to the current size, so a test measures the peak of one attack rather than of the start.
 */
import { readFile, writeFile } from 'node:fs/promises';

async function statusField(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export function residentBytes(pid: number): Promise<number> {
  return statusField(pid, 'VmRSS');
}

export function peakResidentBytes(pid: number): Promise<number> {
  return statusField(pid, 'VmHWM');
}

/**
 * Starts a new peak measurement and resolves with the resident size it starts from. Where the
 * kernel refuses the reset (`clear_refs` needs the process's owner), the later peak may still be
 * the start's: a growth can then only look larger than it was, never smaller.
 */
export async function startPeakMeasurement(pid: number): Promise<number> {
  await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => undefined);
  return residentBytes(pid);
}
