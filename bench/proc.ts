/**
 * What the kernel says about a process and its children: resident memory and CPU time, read from
 * `/proc` so that the figures are the process's own (the benchmark's other processes are not in
 * them). Linux only, like the build machines.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  /** Resident set size, bytes (sum over the process and its children). */
  rssBytes: number;
  /** User + system CPU time, seconds (sum over the process and its live children). */
  cpuSeconds: number;
  pids: number[];
}

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function cpuOf(pid: number): number {
  const fields = statFields(pid);
  if (!fields) return 0;
  // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 once pid and comm are cut off.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Direct children of `pid` (cluster workers of a sidecar primary). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields && Number(fields[1]) === pid) children.push(Number(entry));
  }
  return children;
}

/** RSS and CPU of `pid`, plus its children when `withChildren`. */
export function sampleProcess(pid: number, withChildren = false): ProcessSample {
  return sampleProcesses([pid, ...(withChildren ? childrenOf(pid) : [])]);
}

/** RSS and CPU summed over `pids` (the processes of one target: sidecars and their proxy). */
export function sampleProcesses(pids: readonly number[]): ProcessSample {
  let rssBytes = 0;
  let cpuSeconds = 0;
  for (const p of pids) {
    rssBytes += rssOf(p);
    cpuSeconds += cpuOf(p);
  }
  return { rssBytes, cpuSeconds, pids: [...pids] };
}

/** Open file descriptors of a process (how close it is to the 20,000 limit). */
export function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The per-process open-file limit the kernel enforces for `pid`. */
export function openFileLimit(pid: number = process.pid): number | undefined {
  try {
    const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    const match = /^Max open files\s+(\d+)\s+(\d+)/m.exec(limits);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
