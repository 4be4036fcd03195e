/**
 * What a client sends: raw bytes counted against Odoo's rate limit, each text (or binary UTF-8)
 * message read and validated as Odoo's web clients send them (`clientMessage.ts`), then handed to
 * the socket's subscription or presence. What is not such a message is counted, logged within the
 * client's budget and ignored, as Odoo's worker logs the error and reads the next message.
 */
import { CloseCode } from '../closeCodes.js';
import { readClientMessage } from './clientMessage.js';
import { FrameRateLimiter, FrameScanner } from './frameScanner.js';
import type { OdooSocket } from './odooSocket.js';

/** Binary frames carrying JSON are read like text (as Odoo does), refusing invalid UTF-8. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Raw bytes from the client: every frame counts against Odoo's rate limit, and any frame (data,
 * ping, pong) proves the connection alive. The counters are made at the first bytes and dropped by
 * the socket's sweep once its client stopped sending.
 */
export function receiveBytes(socket: OdooSocket, chunk: Buffer): void {
  const { context } = socket;
  context.metrics.received.bytes += chunk.length;
  if (socket.isClosing) return;
  const { rateLimitBurst, rateLimitWindowMs } = context.settings;
  socket.scanner ??= new FrameScanner();
  socket.limiter ??= new FrameRateLimiter(rateLimitBurst, rateLimitWindowMs);
  const limiter = socket.limiter;
  socket.scanner.push(chunk, () => {
    socket.touch();
    if (limiter.hit(context.clock())) return true;
    context.metrics.rateLimited.inc();
    socket.logLimited('ws-rate-limited', (log, note) =>
      log.info({ db: socket.db, ...note }, 'rate limit exceeded, socket closed'),
    );
    socket.close(CloseCode.TRY_LATER, '');
    return false;
  });
}

/** One message: parsed, validated, dispatched. */
export function receiveMessage(socket: OdooSocket, data: Buffer, isBinary: boolean): void {
  if (socket.isClosing) return;
  // Odoo 18/19 clients send a 1-byte binary 0x00 after a minute of silence: ignore it silently.
  if (isBinary && data.length === 1 && data[0] === 0) return;
  let text: string;
  try {
    text = isBinary ? STRICT_UTF8.decode(data) : data.toString('utf8');
  } catch {
    refuse(socket, 'binary-not-utf8', 'binary frame is not UTF-8 text');
    return;
  }
  const { metrics, settings } = socket.context;
  const message = readClientMessage(text, data.length, settings.messageLimits);
  switch (message.kind) {
    case 'refused':
      refuse(socket, message.reason, message.text);
      return;
    case 'subscribe':
      metrics.clientMessages.labels('subscribe').inc();
      socket.subscribe(message.channels, message.last);
      return;
    case 'update_presence':
      metrics.clientMessages.labels('update_presence').inc();
      socket.updatePresence(message.data);
      return;
    case 'other':
      // Odoo 16-18 ignore unknown events; 19 hands them to modules that have no HTTP route.
      metrics.clientMessages.labels('other').inc();
      socket.log.debug({ event: message.event.slice(0, 64) }, 'unknown websocket event ignored');
  }
}

function refuse(socket: OdooSocket, reason: string, text: string): void {
  socket.context.metrics.invalidMessages.labels(reason).inc();
  socket.logLimited('ws-message-refused', (log, note) =>
    log.info({ reason, db: socket.db, ...note }, `websocket message ignored: ${text}`),
  );
}
