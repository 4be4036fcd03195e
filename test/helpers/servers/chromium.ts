/**
 * A headless Chromium for browser tests, driven over the DevTools protocol (`cdp.ts`): real
 * cookies, real `Origin` headers, the browser's own websocket handshake (and its offer of
 * `permessage-deflate`). Started under the same guard as the test servers, so it cannot outlive the
 * test process, with a fresh profile that is deleted afterwards.
 */
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CdpConnection, type CdpEvent } from '../clients/cdp.js';
import { handToServiceAccount } from '../fakeOdoo/serviceAccount.js';
import { sleep, waitFor } from '../waitFor.js';
import { removeAbandonedDirs } from './abandonedDirs.js';
import { type GuardedProcess, spawnGuarded } from './guardedProcess.js';
import { requireTool } from './systemTools.js';

/** Flags for a quiet, throwaway browser: no sandbox (root in CI), no GPU, no calls home. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--remote-debugging-port=0',
];

export interface BrowserPage {
  readonly sessionId: string;
  /** Loads `url` and resolves once its `load` event fired. */
  navigate(url: string): Promise<void>;
  /** Evaluates in the page (promises awaited) and returns the value as JSON. */
  evaluate<T>(expression: string): Promise<T>;
  /** This page's DevTools events named `method`, in arrival order. */
  events(method: string): CdpEvent[];
}

export interface Chromium {
  readonly cdp: CdpConnection;
  newPage(): Promise<BrowserPage>;
  /** Closes the browser (killed when it does not exit in time) and deletes its profile. */
  close(): Promise<void>;
}

function findBinary(): string {
  return requireTool('chromium');
}

async function openPage(cdp: CdpConnection): Promise<BrowserPage> {
  const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', {
    url: 'about:blank',
  });
  const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', {
    targetId,
    flatten: true,
  });
  for (const domain of ['Page', 'Network', 'Runtime']) {
    await cdp.send(`${domain}.enable`, {}, sessionId);
  }
  return {
    sessionId,
    async navigate(url) {
      const loadsBefore = cdp.events.filter(
        (e) => e.sessionId === sessionId && e.method === 'Page.loadEventFired',
      ).length;
      const answer = await cdp.send<{ errorText?: string }>('Page.navigate', { url }, sessionId);
      if (answer.errorText) throw new Error(`navigation to ${url} failed: ${answer.errorText}`);
      await waitFor(
        () =>
          cdp.events.filter((e) => e.sessionId === sessionId && e.method === 'Page.loadEventFired')
            .length > loadsBefore,
        { message: `the load event of ${url}` },
      );
    },
    async evaluate<T>(expression: string) {
      const answer = await cdp.send<{
        result: { value?: unknown };
        exceptionDetails?: { text: string; exception?: { description?: string } };
      }>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
      if (answer.exceptionDetails) {
        const { text, exception } = answer.exceptionDetails;
        throw new Error(`page script failed: ${exception?.description ?? text}`);
      }
      return answer.result.value as T;
    },
    events(method) {
      return cdp.events.filter((e) => e.sessionId === sessionId && e.method === method);
    },
  };
}

const DIR_PREFIX = 'odoo-bus-sidecar-chromium-';
let sweep: Promise<void> | undefined;

export async function launchChromium(): Promise<Chromium> {
  sweep ??= removeAbandonedDirs(DIR_PREFIX, 'chromium.pid').catch(() => {});
  await sweep;
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  const profile = join(dir, 'profile');
  let browser: GuardedProcess | undefined;
  let cdp: CdpConnection | undefined;
  const stop = async () => {
    cdp?.close();
    if (browser?.running) {
      browser.signal('TERM');
      const exited = browser.waitForExit();
      if ((await Promise.race([exited, sleep(5_000).then(() => 'late')])) === 'late') {
        browser.signal('KILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(profile);
    await handToServiceAccount(dir);
    const output = await open(join(dir, 'console.log'), 'a');
    try {
      browser = await spawnGuarded(findBinary(), {
        args: [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'],
        cwd: dir,
        outputFd: output.fd,
        // Its own HOME and TMPDIR: the browser may run as the service account, whose home is not
        // writable, and what it leaves in the temp directory (its singleton socket) goes with ours.
        env: { ...process.env, HOME: dir, TMPDIR: dir },
        finalSignal: 'TERM',
      });
    } finally {
      await output.close();
    }
    // Lets a later run recognise this directory as abandoned if this process is killed.
    await writeFile(join(dir, 'chromium.pid'), `${browser.pid}\n`);
    const started = browser;
    const endpoint = await waitFor(
      async () => {
        if (!started.running) throw new Error('Chromium exited during start-up');
        const text = await readFile(join(profile, 'DevToolsActivePort'), 'utf8');
        const [port, path] = text.split('\n');
        return port && path ? `ws://127.0.0.1:${port}${path}` : undefined;
      },
      {
        timeoutMs: 30_000,
        message: () => 'Chromium to open its DevTools port (see its console.log)',
      },
    );
    cdp = await CdpConnection.connect(endpoint);
    const connection = cdp;
    let closing: Promise<void> | undefined;
    return {
      cdp: connection,
      newPage: () => openPage(connection),
      close() {
        closing ??= (async () => {
          await connection.send('Browser.close').catch(() => undefined);
          await stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    const consoleLog = await readFile(join(dir, 'console.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`${(error as Error).message}\n${consoleLog.slice(-4000)}`, { cause: error });
  }
}
