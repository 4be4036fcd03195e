/**
 * A minimal Chrome DevTools Protocol client over one websocket (the `ws` package): commands with
 * replies, and every event kept in arrival order so a test can look for what happened, whenever it
 * looks. Pages are driven through flat sessions (`Target.attachToTarget` with `flatten`), so one
 * connection serves the browser and all its pages.
 */
import WebSocket from 'ws';
import { waitFor } from '../waitFor.js';

export interface CdpEvent {
  method: string;
  params: Record<string, unknown>;
  /** The page session the event belongs to (absent for browser-level events). */
  sessionId?: string;
}

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { code: number; message: string; data?: string };
  sessionId?: string;
}

export class CdpConnection {
  readonly events: CdpEvent[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.receive(String(data)));
    ws.on('close', () => {
      for (const call of this.pending.values()) {
        call.reject(new Error(`DevTools connection closed during ${call.method}`));
      }
      this.pending.clear();
    });
  }

  static connect(url: string): Promise<CdpConnection> {
    return new Promise((resolve, reject) => {
      // DevTools messages (a page's whole DOM, large evaluations) exceed ws's default limit.
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      ws.once('open', () => resolve(new CdpConnection(ws)));
      ws.once('error', reject);
    });
  }

  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  /** Resolves with the first event (already received or to come) that matches. */
  waitForEvent(
    method: string,
    matches: (event: CdpEvent) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<CdpEvent> {
    return waitFor(() => this.events.find((e) => e.method === method && matches(e)), {
      timeoutMs,
      intervalMs: 10,
      message: `DevTools event ${method}`,
    });
  }

  close(): void {
    this.ws.close();
  }

  private receive(text: string): void {
    const message = JSON.parse(text) as CdpMessage;
    if (message.id === undefined) {
      if (message.method !== undefined) {
        this.events.push({
          method: message.method,
          params: message.params ?? {},
          ...(message.sessionId ? { sessionId: message.sessionId } : {}),
        });
      }
      return;
    }
    const call = this.pending.get(message.id);
    if (call === undefined) return;
    this.pending.delete(message.id);
    if (message.error) {
      call.reject(
        new Error(`${call.method}: ${message.error.message} ${message.error.data ?? ''}`),
      );
    } else {
      call.resolve(message.result ?? {});
    }
  }
}
