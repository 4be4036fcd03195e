/**
 * The clock every deadline reads: milliseconds of `performance.now()`, which never jumps when the
 * wall clock is set (NTP, a resumed VM, an administrator). Only differences between two readings
 * mean something. `Date.now()` stays for what is shown to people or compared with other machines.
 * Components take a `Clock` so that tests can step time without waiting for it.
 */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();
