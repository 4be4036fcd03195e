/**
 * The listeners every socket shares: one function each for all connections (no closure per
 * socket), finding their socket through its tag. Each is where the event loop meets the socket's
 * code: what that code did not foresee is caught here, counted and logged, and the socket (and the
 * process) goes on, as Odoo's worker goes on to the next message after logging an error.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { socketOf } from './odooSocket.js';

/** Until `ws` owns the connection, an error on it just ends it. */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}

function onWsError(this: WebSocket, error: Error): void {
  socketOf(this)?.protocolError(error);
}

function onWsMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const socket = socketOf(this);
  if (!socket) return;
  try {
    socket.touch();
    socket.handleMessage(data as Buffer, isBinary);
  } catch (error) {
    socket.caught('ws-message', error);
  }
}

function onWsClose(this: WebSocket): void {
  const socket = socketOf(this);
  try {
    socket?.ended();
  } catch (error) {
    socket?.caught('ws-close', error);
  }
}

function onRawData(this: Socket, chunk: Buffer): void {
  const socket = socketOf(this);
  try {
    socket?.rawData(chunk);
  } catch (error) {
    socket?.caught('ws-raw-data', error);
  }
}

/**
 * Attaches the shared listeners to a tagged connection and its TCP socket. No `ping`/`pong`
 * listeners: the raw bytes show those frames (`receiveBytes` counts every frame as activity), and
 * each event name more moves the connection's listener table to a larger size.
 */
export function listenTo(ws: WebSocket, raw: Socket): void {
  ws.on('error', onWsError);
  ws.on('message', onWsMessage);
  ws.on('close', onWsClose);
  raw.on('data', onRawData);
}
