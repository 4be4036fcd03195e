/**
 * Reading the Prometheus text of a sidecar's `/metrics`, for tests against a sidecar process (an
 * in-process sidecar's registry can be asked directly).
 */

/** The sum of every series of `name` whose labels include `labels` (0 when none). */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const series = match[2] ?? '';
    const matches = Object.entries(labels).every(([key, value]) =>
      series.includes(`${key}="${value}"`),
    );
    if (matches) sum += Number(match[3]);
  }
  return sum;
}

/** Fetches `/metrics` of the sidecar at `baseUrl` (`http://127.0.0.1:<port>`). */
export async function scrapeMetrics(baseUrl: string): Promise<string> {
  const answer = await fetch(`${baseUrl}/metrics`);
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
  return answer.text();
}
