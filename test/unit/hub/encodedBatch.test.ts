import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { EncodedBatch, textFrame } from '../../../src/hub/encodedBatch.js';

interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer) => void): void;
  write(chunk: Buffer): void;
}
// `ws` exports its frame parser at run time; its type declarations do not describe it.
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean }) => FrameReceiver;
};

/** Decodes frames with the `ws` parser itself, as a client would. */
function decode(frame: Buffer): string {
  const receiver = new Receiver({ isServer: false });
  let text = '';
  receiver.on('message', (data: Buffer) => {
    text = data.toString();
  });
  receiver.write(frame);
  return text;
}

describe('textFrame', () => {
  for (const size of [0, 125, 126, 65_535, 65_536, 200_000]) {
    it(`frames ${size} bytes so that a websocket parser reads them back`, () => {
      const payload = Buffer.alloc(size, 0x61);
      expect(decode(textFrame(payload))).toBe(payload.toString());
    });
  }
});

describe('EncodedBatch', () => {
  it('encodes once and shares the bytes', () => {
    const batch = new EncodedBatch([{ id: 3, message: '{"type":"x","payload":1}' }]);
    expect(batch.websocketFrame).toBe(batch.websocketFrame);
    expect(decode(batch.websocketFrame)).toBe('[{"id":3,"message":{"type":"x","payload":1}}]');
  });
});
