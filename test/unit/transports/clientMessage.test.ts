import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_DEPTH, nestsDeeperThan } from '../../../src/json/depth.js';
import {
  type ClientMessage,
  type MessageLimits,
  readClientMessage,
} from '../../../src/transports/websocket/clientMessage.js';
import { presenceParams } from '../../../src/transports/websocket/odooSocket.js';
import { readFixture } from '../../helpers/fixtures.js';

const LIMITS: MessageLimits = {
  maxChannels: 2000,
  maxChannelLength: 512,
  maxSubscribeBytes: 256 * 1024,
};

function read(text: string, limits = LIMITS): ClientMessage {
  return readClientMessage(text, Buffer.byteLength(text), limits);
}

interface Recording {
  proxy_websocket_connections: Array<{
    frames: Array<{ dir: string; opcode: number; text?: string | null }>;
  }>;
}

/** Every text frame the web client (Chromium) sent through the proxy in the recordings. */
function browserMessages(version: 'odoo17' | 'odoo19'): string[] {
  const recording = readFixture<Recording>(version, 'browser-frames.json');
  return recording.proxy_websocket_connections.flatMap((connection) =>
    connection.frames
      .filter((frame) => frame.dir === 'client->server' && frame.opcode === 1)
      .map((frame) => frame.text ?? ''),
  );
}

describe('client messages', () => {
  it.each(['odoo17', 'odoo19'] as const)(
    'accepts every message the %s web client sent',
    (version) => {
      const messages = browserMessages(version);
      expect(messages.length).toBeGreaterThan(2);
      for (const text of messages) {
        const message = read(text);
        expect({ text, kind: message.kind }).not.toEqual({ text, kind: 'refused' });
        const sent = JSON.parse(text) as { event_name: string; data: Record<string, unknown> };
        // What is kept is what was sent, rebuilt from its checked parts.
        if (message.kind === 'subscribe')
          expect(message).toEqual({ kind: 'subscribe', ...sent.data });
        if (message.kind === 'update_presence') expect({ ...message.data }).toEqual(sent.data);
      }
    },
  );

  it.each([
    [
      '{"event_name":"subscribe","data":{"channels":[1,null,["x"]],"last":0}}',
      'non-string-channel',
    ],
    ['{"event_name":"subscribe","data":{"channels":"abc","last":0}}', 'non-string-channel'],
    ['{"event_name":"subscribe","data":{"channels":[]}}', 'subscribe-last'],
    ['{"event_name":"subscribe","data":{"channels":[],"last":"5"}}', 'subscribe-last'],
    ['{"event_name":"subscribe","data":null}', 'subscribe-data'],
    ['{"event_name":"subsc', 'invalid-json'],
    ['[1,2]', 'not-an-object'],
    ['{"data":{}}', 'missing-event-name'],
    ['{"event_name":"update_presence","data":{"inactivity_period":"x"}}', 'presence-data'],
    ['{"event_name":"update_presence","data":{"inactivity_period":-1}}', 'presence-data'],
    [
      '{"event_name":"update_presence","data":{"inactivity_period":0,"im_status_ids_by_model":[1]}}',
      'presence-data',
    ],
    [
      '{"event_name":"update_presence","data":{"inactivity_period":0,"im_status_ids_by_model":{"res.partner":[1.5]}}}',
      'presence-data',
    ],
  ])('refuses %s (%s), as Odoo refuses it', (text, reason) => {
    expect(read(text)).toMatchObject({ kind: 'refused', reason });
  });

  it('ignores events it does not know, as Odoo 16-18 do', () => {
    expect(read('{"event_name":"foo","data":{}}')).toEqual({ kind: 'other', event: 'foo' });
    expect(read('{"event_name":"noop"}')).toEqual({ kind: 'other', event: 'noop' });
  });

  it('holds every subscribe cap: channel count, channel length, message bytes', () => {
    const limits = { maxChannels: 3, maxChannelLength: 10, maxSubscribeBytes: 100 };
    const subscribe = (channels: string[]) =>
      read(JSON.stringify({ event_name: 'subscribe', data: { channels, last: 0 } }), limits);
    expect(subscribe(['a', 'b', 'c'])).toMatchObject({ kind: 'subscribe' });
    expect(subscribe(['a', 'b', 'c', 'd'])).toMatchObject({ reason: 'too-many-channels' });
    expect(subscribe(['x'.repeat(10)])).toMatchObject({ kind: 'subscribe' });
    expect(subscribe(['x'.repeat(11)])).toMatchObject({ reason: 'channel-too-long' });
    expect(
      readClientMessage('{"event_name":"subscribe","data":{"channels":[],"last":0}}', 101, limits),
    ).toMatchObject({ reason: 'subscribe-too-large' });
  });

  it('refuses nesting past the limit before parsing, and counts brackets in strings as text', () => {
    const at = `${'['.repeat(MAX_MESSAGE_DEPTH)}${']'.repeat(MAX_MESSAGE_DEPTH)}`;
    expect(nestsDeeperThan(at, MAX_MESSAGE_DEPTH)).toBe(false);
    expect(nestsDeeperThan(`[${at}]`, MAX_MESSAGE_DEPTH)).toBe(true);
    expect(nestsDeeperThan(`["${'['.repeat(1000)}\\"${'{'.repeat(1000)}"]`, 2)).toBe(false);
    const deep = `{"event_name":"update_presence","data":{"inactivity_period":0,"im_status_ids_by_model":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
    expect(read(deep)).toMatchObject({ kind: 'refused', reason: 'too-deep' });
  });

  it('keeps a model named __proto__ as a plain key', () => {
    const message = read(
      '{"event_name":"update_presence","data":{"inactivity_period":0,"im_status_ids_by_model":{"__proto__":[1]}}}',
    );
    expect(message.kind).toBe('update_presence');
    if (message.kind !== 'update_presence') return;
    expect(JSON.stringify(presenceParams(message.data, 17))).toBe(
      '{"inactivity_period":0,"im_status_ids_by_model":{"__proto__":[1]}}',
    );
  });
});
