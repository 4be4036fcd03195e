/**
 * The latency chart, as a self-contained SVG: commit-to-receipt p50 and p99 and the time to the last
 * receipt of a burst, against N, for every target. Both axes are logarithmic (N from a thousand to
 * tens of thousands; latency from a millisecond to seconds). No dependencies.
 */
import type { RunResult } from './measure.js';

const WIDTH = 860;
const HEIGHT = 520;
const MARGIN = { left: 70, right: 200, top: 40, bottom: 55 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const SERIES = [
  { key: 'p50', label: 'p50', dash: '' },
  { key: 'p99', label: 'p99', dash: '6 4' },
  { key: 'last', label: 'last receipt', dash: '2 3' },
] as const;

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function niceTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exp = Math.floor(Math.log10(min)); exp <= Math.ceil(Math.log10(max)); exp++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** exp;
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  return ticks;
}

/** The largest 1, 2 or 5 × 10^k not above `value`. */
function niceBelow(value: number): number {
  const exp = 10 ** Math.floor(Math.log10(value));
  return ([5, 2, 1].map((m) => m * exp).find((v) => v <= value) ?? exp) as number;
}

/** The smallest 1, 2 or 5 × 10^k not below `value`. */
function niceAbove(value: number): number {
  const exp = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].map((m) => m * exp).find((v) => v >= value) ?? 10 * exp) as number;
}

function label(value: number): string {
  if (value >= 1000) return `${value / 1000}k`;
  return String(value);
}

export function latencyChart(runs: readonly RunResult[], title: string): string {
  const targets = [...new Set(runs.map((r) => r.target))];
  const points = runs.flatMap((run) => [
    run.burst.latencyMs.p50,
    run.burst.latencyMs.p99,
    run.burst.lastReceiptMs.median,
  ]);
  const values = points.filter((v): v is number => v !== undefined && v > 0);
  const sizes = runs.map((r) => r.n).filter((n) => n > 0);
  if (values.length === 0 || sizes.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="80" role="img"><title>no latency data</title><text x="10" y="40">no latency data</text></svg>\n`;
  }
  const yMin = niceBelow(Math.min(...values));
  const yMax = niceAbove(Math.max(...values));
  const xMin = Math.min(...sizes) / 1.25;
  const xMax = Math.max(...sizes) * 1.25;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (n: number) =>
    MARGIN.left +
    ((Math.log10(n) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * plotW;
  const y = (v: number) =>
    MARGIN.top +
    plotH -
    ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  );
  for (const tick of niceTicks(yMin, yMax)) {
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${label(tick)}</text>`,
    );
  }
  for (const n of [...new Set(sizes)].sort((a, b) => a - b)) {
    out.push(
      `<line x1="${x(n).toFixed(1)}" x2="${x(n).toFixed(1)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${x(n).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${n.toLocaleString('en-US')}</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">N (sockets subscribed to the channel)</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">commit → receipt, ms (one notification to all N)</text>`,
  );
  let legendY = MARGIN.top + 10;
  targets.forEach((target, t) => {
    const colour = COLOURS[t % COLOURS.length] as string;
    const mine = runs.filter((r) => r.target === target).sort((a, b) => a.n - b.n);
    for (const series of SERIES) {
      const pts = mine
        .map((run) => {
          const v =
            series.key === 'last'
              ? run.burst.lastReceiptMs.median
              : run.burst.latencyMs[series.key];
          return v !== undefined && v > 0 ? [x(run.n), y(v)] : undefined;
        })
        .filter((p): p is number[] => p !== undefined);
      if (pts.length === 0) continue;
      out.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2" ${series.dash ? `stroke-dasharray="${series.dash}"` : ''} points="${pts.map((p) => `${(p[0] as number).toFixed(1)},${(p[1] as number).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const p of pts)
        out.push(
          `<circle cx="${(p[0] as number).toFixed(1)}" cy="${(p[1] as number).toFixed(1)}" r="3" fill="${colour}"/>`,
        );
      const lx = MARGIN.left + plotW + 15;
      out.push(
        `<line x1="${lx}" x2="${lx + 30}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2" ${series.dash ? `stroke-dasharray="${series.dash}"` : ''}/>`,
        `<text x="${lx + 36}" y="${legendY + 4}">${escapeXml(`${target} ${series.label}`)}</text>`,
      );
      legendY += 18;
    }
    legendY += 6;
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
