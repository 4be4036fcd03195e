import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { member, parseJsonInSlices } from '../../../src/json/rawJson.js';
import { readBoundedBody } from '../../../src/odoo/boundedBody.js';
import { PeekResultError, readPeekResult } from '../../../src/odoo/peek.js';
import { PollAnswerError, readPollAnswer } from '../../../src/odoo/pollAnswer.js';

function peekAnswer(ids: number[]): string {
  const items = ids.map((id) => `{"id": ${id}, "message": {"type": "t", "payload": {"n": ${id}}}}`);
  return `{"jsonrpc": "2.0", "id": 1, "result": {"channels": [["db", "broadcast"]], "notifications": [${items.join(', ')}]}}`;
}

async function cutAt(text: string, at: number) {
  const prefix = text.slice(0, at);
  const { root, cut } = await parseJsonInSlices(prefix, { prefix: true });
  return { prefix, result: member(root, 'result'), cut };
}

describe('answers cut short by the size bound', () => {
  it('a peek answer gives its first rows whole and says it is partial', async () => {
    const text = peekAnswer([5, 6, 7, 8, 9]);
    const { prefix, result, cut } = await cutAt(text, text.indexOf('{"id": 8') + 10);
    const peek = readPeekResult(prefix, result as never, cut);
    expect(peek.partial).toBe(true);
    expect(peek.notifications.map((n) => n.id)).toEqual([5, 6, 7]);
    expect(peek.channels).toEqual(['["db","broadcast"]']);
  });

  it('refuses a cut answer whose first row does not fit, or whose rows do not ascend', async () => {
    const text = peekAnswer([5, 6]);
    const early = await cutAt(text, text.indexOf('{"id": 5') + 5);
    expect(() => readPeekResult(early.prefix, early.result as never, early.cut)).toThrow(
      PeekResultError,
    );
    const unordered = peekAnswer([7, 5, 6]);
    const late = await cutAt(unordered, unordered.indexOf('{"id": 6') + 3);
    expect(() => readPeekResult(late.prefix, late.result as never, late.cut)).toThrow(
      PeekResultError,
    );
    const channels = await cutAt(text, text.indexOf('"channels"') + 15);
    expect(() => readPeekResult(channels.prefix, channels.result as never, channels.cut)).toThrow(
      PeekResultError,
    );
  });

  it('a poll answer (12-15) gives its first rows whole and says it is partial', async () => {
    const items = [3, 4, 5].map((id) => `{"id": ${id}, "message": {"n": ${id}}}`);
    const text = `{"jsonrpc": "2.0", "id": 1, "result": {"db": "odoo15", "channels": [["odoo15", "broadcast"]], "notifications": [${items.join(', ')}], "version": 15}}`;
    const { prefix, result, cut } = await cutAt(text, text.indexOf('{"id": 5'));
    const answer = readPollAnswer(prefix, result as never, cut);
    expect(answer).toMatchObject({ db: 'odoo15', partial: true, version: undefined });
    expect(answer.notifications.map((n) => n.id)).toEqual([3, 4]);
    const none = await cutAt(text, text.indexOf('{"id": 3') + 4);
    expect(() => readPollAnswer(none.prefix, none.result as never, none.cut)).toThrow(
      PollAnswerError,
    );
  });

  it('reads a body up to its bound, whether or not it says its length', async () => {
    const body = Buffer.alloc(300_000, 0x61);
    const server = createServer((req, res) => {
      if (req.url === '/chunked') {
        res.write(body.subarray(0, 100_000));
        res.write(body.subarray(100_000));
        res.end();
      } else res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const path of ['/length', '/chunked']) {
        const cut = await readBoundedBody(
          (await request(`http://127.0.0.1:${port}${path}`)).body,
          150_000,
        );
        expect([cut.text.length, cut.truncated]).toEqual([150_000, true]);
        const whole = await readBoundedBody(
          (await request(`http://127.0.0.1:${port}${path}`)).body,
          300_000,
        );
        expect([whole.text.length, whole.truncated]).toEqual([300_000, false]);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
