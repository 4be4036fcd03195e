/** Rewrites the README's metrics reference from the metrics the sidecar registers. */
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceMetricsTable } from '../src/observability/metricsDocs.js';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, replaceMetricsTable(readFileSync(path, 'utf8')));
