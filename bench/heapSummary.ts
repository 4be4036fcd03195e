/**
 * `tsx bench/heapSummary.ts <file.heapsnapshot> [per]`: the objects of a V8 heap snapshot grouped by
 * type and constructor name, largest total self size first — with `per` (e.g. the number of open
 * sockets), also count and bytes per socket. Used to see what an idle socket costs in the sidecar
 * (`npm run bench -- --heap-snapshot` writes the snapshots).
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [file, perText] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: tsx bench/heapSummary.ts <file.heapsnapshot> [per]\n');
  process.exit(2);
}
const per = perText === undefined ? undefined : Number(perText);
const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = data.snapshot.meta.node_fields;
const types = data.snapshot.meta.node_types[0];
const stride = fields.length;
const typeAt = fields.indexOf('type');
const nameAt = fields.indexOf('name');
const sizeAt = fields.indexOf('self_size');

const groups = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < data.nodes.length; i += stride) {
  const type = types[data.nodes[i + typeAt] as number] ?? '?';
  const name = data.strings[data.nodes[i + nameAt] as number] ?? '?';
  const size = data.nodes[i + sizeAt] as number;
  const key =
    type === 'object' || type === 'closure' || type === 'native'
      ? `${type} ${name.slice(0, 60)}`
      : type;
  const group = groups.get(key) ?? { count: 0, bytes: 0 };
  group.count++;
  group.bytes += size;
  groups.set(key, group);
  total += size;
}
const rows = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 45);
process.stdout.write(
  `total self size ${(total / 1024 / 1024).toFixed(1)} MB${per ? `, ${(total / per).toFixed(0)} B per unit` : ''}\n`,
);
for (const [key, { count, bytes }] of rows) {
  const extra = per ? `  ${(count / per).toFixed(2)}/u  ${(bytes / per).toFixed(0)} B/u` : '';
  process.stdout.write(
    `${(bytes / 1024).toFixed(0).padStart(9)} KB ${String(count).padStart(8)}  ${key}${extra}\n`,
  );
}
