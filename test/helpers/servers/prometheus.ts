/**
 * A throwaway Prometheus server (Debian's `prometheus` package) scraping given targets every second
 * and evaluating given rule files, for tests of what the repository ships for it (alert rules,
 * dashboard queries). Started under the same guard as the other test servers, so it cannot outlive
 * the test process; its data directory is deleted afterwards.
 */
import { copyFile, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { handToServiceAccount } from '../fakeOdoo/serviceAccount.js';
import { sleep, waitFor } from '../waitFor.js';
import { type GuardedProcess, spawnGuarded } from './guardedProcess.js';
import { freePort } from './ports.js';
import { requireTool } from './systemTools.js';

export interface Prometheus {
  readonly url: string;
  /** An instant query; throws with Prometheus' own message when it does not evaluate. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  rules(): Promise<
    Array<{ name: string; type: string; health: string; lastError?: string; state?: string }>
  >;
  stop(): Promise<void>;
}

export async function startPrometheus(options: {
  targets: string[];
  ruleFiles: string[];
}): Promise<Prometheus> {
  const binary = requireTool('prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'odoo-bus-sidecar-prometheus-'));
  const port = await freePort();
  const rules: string[] = [];
  for (const file of options.ruleFiles) {
    const copy = join(dir, basename(file));
    await copyFile(file, copy);
    rules.push(copy);
  }
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: rules,
    scrape_configs: [
      { job_name: 'odoo-bus-sidecar', static_configs: [{ targets: options.targets }] },
    ],
  };
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  await handToServiceAccount(dir);
  const log = await open(join(dir, 'prometheus.log'), 'a');
  let server: GuardedProcess;
  try {
    server = await spawnGuarded(binary, {
      args: [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      cwd: dir,
      outputFd: log.fd,
      finalSignal: 'KILL',
    });
  } finally {
    await log.close();
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (server.running) {
      server.signal('TERM');
      const exited = server.waitForExit();
      if ((await Promise.race([exited, sleep(5_000).then(() => 'late')])) === 'late') {
        server.signal('KILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (!server.running) throw new Error('prometheus exited during start-up');
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 30_000, message: 'Prometheus ready' },
    );
  } catch (error) {
    const output = await readFile(join(dir, 'prometheus.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`${(error as Error).message}\n${output.slice(-4000)}`, { cause: error });
  }
  return {
    url,
    async query(expr) {
      const answer = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await answer.json()) as {
        status: string;
        error?: string;
        data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? answer.status}`);
      return body.data?.result ?? [];
    },
    async rules() {
      const answer = await fetch(`${url}/api/v1/rules`);
      const body = (await answer.json()) as {
        data: { groups: Array<{ rules: Array<{ name: string; type: string; health: string }> }> };
      };
      return body.data.groups.flatMap((group) => group.rules);
    },
    stop,
  };
}
