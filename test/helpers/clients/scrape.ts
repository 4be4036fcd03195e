/**
 * Reads one value from a sidecar's `/metrics` (Prometheus text), as a monitoring system would: for
 * the sidecar in this process and for the sidecar as a process alike.
 */

/** The value of `name` with exactly `labels` (none: the unlabelled series); undefined if absent. */
export async function scrapeMetric(
  adminUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (have === wanted) return Number(match[3]);
  }
  return undefined;
}
