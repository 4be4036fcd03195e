/**
 * The physical floor, as its own process: a `ws` server with no logic at all (no permessage-deflate,
 * no client tracking, one array of sockets), and a write loop that sends one pre-framed buffer to
 * every socket — the same single `socket.write` of shared bytes the sidecar does per socket. Its idle
 * RSS per socket and its writes per second are what the sidecar is measured against.
 *
 * `broadcast`: one loop over every socket, the frame carrying the loop's start time.
 * `flood`: loops back to back for a while (yielding to I/O between loops), for writes per second.
 */
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { textFrame } from '../src/hub/encodedBatch.js';
import {
  BENCH_MESSAGE_TYPE,
  nowUs,
  type ReferenceCommand,
  type ReferenceReply,
} from './protocol.js';

const host = process.env.BENCH_HOST ?? '127.0.0.1';
const sockets: WebSocket[] = [];

const wss = new WebSocketServer({
  host,
  port: 0,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 2 ** 20,
});
wss.on('connection', (ws) => {
  sockets.push(ws);
  ws.on('close', () => {
    const index = sockets.indexOf(ws);
    if (index >= 0) {
      sockets[index] = sockets[sockets.length - 1] as WebSocket;
      sockets.pop();
    }
  });
  ws.on('error', () => {});
});
wss.on('listening', () => {
  const address = wss.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  send({ type: 'listening', port });
});

function send(reply: ReferenceReply): void {
  process.send?.(reply);
}

function frameFor(seq: number, startUs: number): Buffer {
  const text = `[{"id":${seq},"message":{"type":"${BENCH_MESSAGE_TYPE}","payload":{"s":${seq},"t":${Math.round(startUs)}}}}]`;
  return textFrame(Buffer.from(text, 'utf8'));
}

function writeLoop(seq: number): { startUs: number; loopUs: number; writes: number } {
  const startUs = nowUs();
  const frame = frameFor(seq, startUs);
  let writes = 0;
  for (const ws of sockets) {
    (ws as WebSocket & { _socket: Socket })._socket.write(frame);
    writes++;
  }
  return { startUs, loopUs: nowUs() - startUs, writes };
}

async function flood(firstSeq: number, durationMs: number): Promise<void> {
  const starts: Array<[number, number]> = [];
  const cpu = process.cpuUsage();
  const began = nowUs();
  let writes = 0;
  let seq = firstSeq;
  while (nowUs() - began < durationMs * 1000) {
    const loop = writeLoop(seq);
    starts.push([seq, loop.startUs]);
    writes += loop.writes;
    seq++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(cpu);
  send({
    type: 'flood',
    starts,
    writes,
    elapsedUs: nowUs() - began,
    cpuUs: used.user + used.system,
  });
}

process.on('message', (command: ReferenceCommand) => {
  switch (command.type) {
    case 'broadcast': {
      const loop = writeLoop(command.seq);
      send({ type: 'broadcast', seq: command.seq, ...loop });
      return;
    }
    case 'flood':
      void flood(command.firstSeq, command.durationMs);
      return;
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
