/**
 * Polling instead of fixed sleeps: a test waits for the state it needs, never for a guessed delay,
 * so it is as fast as the system allows and fails with a message that says what never happened.
 */

export interface WaitForOptions {
  /**
   * Give up after this long. Default 30 s: a limit for when the state never comes, far above what
   * a loaded machine needs, so that a slow run is never mistaken for a failure.
   */
  timeoutMs?: number;
  /** Pause between two checks. Default 20 ms. */
  intervalMs?: number;
  /** What was awaited, for the timeout error; a function is called only when the wait fails. */
  message?: string | (() => string);
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `condition` until it returns a truthy value, and resolves with that value. A condition that
 * throws counts as "not yet" (a server still starting refuses connections); the last error is kept
 * for the timeout message.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const what = typeof options.message === 'function' ? options.message() : options.message;
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what ?? 'a condition'}${cause}`, {
    cause: lastError,
  });
}
