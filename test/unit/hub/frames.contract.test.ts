/**
 * What the sidecar writes to a socket, against what Odoo wrote to the same kind of socket.
 * - The stored texts: `canonicalJson` is the identity on every recorded `bus_bus.channel` and
 *   `bus_bus.message` (17 and 19), so a row is never re-encoded on its way to a client.
 * - Odoo 19 frames are compact JSON (`[{"id":n,"message":{...}}]`, `\u` escapes): the sidecar's
 *   frame for the same notifications is byte for byte the frame Odoo 19 sent, header included.
 *   (17 spaced its frames; there only the decoded value is the same.)
 */
import { describe, expect, it } from 'vitest';
import { EncodedBatch } from '../../../src/hub/encodedBatch.js';
import { canonicalJson } from '../../../src/json/pythonJson.js';
import { member, parseJson, safeInteger } from '../../../src/json/rawJson.js';
import { readFixture } from '../../helpers/fixtures.js';

interface BusRows {
  actions: Array<{ name: string; rows: Array<{ id: number; channel: string; message: string }> }>;
}
interface RecordedFrame {
  op: string;
  dir?: string;
  text?: string;
  trimmed?: boolean;
  header_hex?: string;
}

describe.each(['odoo17', 'odoo19'])('the stored texts of %s are kept as they are', (version) => {
  const rows = readFixture<BusRows>(version, 'bus-rows.json').actions.flatMap((a) => a.rows);

  it('canonicalJson is the identity on every channel and message', () => {
    expect(rows.length).toBeGreaterThan(50);
    for (const row of rows) {
      expect(canonicalJson(row.channel)).toBe(row.channel);
      expect(canonicalJson(row.message)).toBe(row.message);
    }
  });
});

/** The notifications of a recorded frame, each message as the exact text Odoo put there. */
function notificationsOf(text: string): Array<{ id: number; message: string }> {
  const root = parseJson(text);
  if (root.kind !== 'array') throw new Error('not a batch');
  return root.items.map((item) => {
    const id = safeInteger(member(item, 'id'), text);
    const message = member(item, 'message');
    if (id === undefined || message === undefined) throw new Error('not a notification');
    return { id, message: text.slice(message.start, message.end) };
  });
}

function odoo19Frames(): RecordedFrame[] {
  const session = readFixture<{
    scenarios: Array<{ name: string; received: RecordedFrame[] }>;
  }>('odoo19', 'websocket-session.json');
  const browser = readFixture<{
    proxy_websocket_connections: Array<{ frames: RecordedFrame[] }>;
  }>('odoo19', 'browser-frames.json');
  return [
    ...session.scenarios.flatMap((s) => s.received ?? []),
    ...browser.proxy_websocket_connections.flatMap((c) =>
      c.frames.filter((f) => f.dir === 'server->client'),
    ),
  ].filter((f) => f.op === 'TEXT' && f.text !== undefined && !f.trimmed);
}

describe('the frames Odoo 19 sent, rebuilt by the sidecar', () => {
  const frames = odoo19Frames();

  it('covers the main scenario and the browser capture', () => {
    expect(frames.length).toBeGreaterThanOrEqual(10);
    expect(frames.some((f) => (f.text ?? '').includes('discuss.channel/new_message'))).toBe(true);
    expect(frames.some((f) => (f.text ?? '').includes('bus.bus/im_status_updated'))).toBe(true);
  });

  it('are byte-identical, header included', () => {
    for (const frame of frames) {
      const text = frame.text ?? '';
      const notifications = notificationsOf(text);
      const batch = new EncodedBatch(notifications);
      expect(batch.payload.toString('utf8')).toBe(text);
      if (frame.header_hex !== undefined) {
        const header = batch.websocketFrame.subarray(0, frame.header_hex.length / 2);
        expect(header.toString('hex')).toBe(frame.header_hex);
      }
      for (const n of notifications) expect(canonicalJson(n.message)).toBe(n.message);
    }
  });

  it('hold ascending ids, never an empty batch', () => {
    for (const frame of frames) {
      const ids = notificationsOf(frame.text ?? '').map((n) => n.id);
      expect(ids.length).toBeGreaterThan(0);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    }
  });
});
