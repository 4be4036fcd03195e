/**
 * The clock of every deadline of the bus and database layers: monotonic, so that a step of the
 * wall clock (NTP, a VM resumed, an admin's `date -s`) neither expires late-commit holes early nor
 * keeps them forever. Values are milliseconds from an arbitrary origin: compare them with each
 * other, never with `Date.now()`.
 */
import { performance } from 'node:perf_hooks';

export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();
