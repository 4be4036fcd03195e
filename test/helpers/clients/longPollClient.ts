/**
 * A long-polling client that speaks like Odoo 12.0-15.0's web client (`longpolling_bus.js`):
 * `POST /longpolling/poll` with a JSON-RPC call `{"channels", "last", "options": {"bus_inactivity",
 * ...}}`, and `last` taken from the highest id of each answer (`_onPoll`). It keeps the browser's
 * `session_id` cookie when the server sets one.
 */
import { Agent, request } from 'undici';

export interface PollParams {
  channels?: unknown;
  last?: unknown;
  options?: Record<string, unknown>;
}

export interface PollResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed JSON-RPC envelope (undefined when the body is not JSON). */
  body: { jsonrpc?: string; id?: unknown; result?: unknown; error?: OdooError } | undefined;
}

export interface OdooError {
  code: number;
  message: string;
  data: { name: string; message: string; arguments: unknown[] } & Record<string, unknown>;
}

export interface LongPollClientOptions {
  baseUrl: string;
  cookie?: string;
  headers?: Record<string, string>;
  /** Share one agent between many clients (the 500-poll test). */
  agent?: Agent;
}

let nextId = 1;

export class LongPollClient {
  cookie: string | undefined;
  last = 0;
  private readonly agent: Agent;
  private readonly ownAgent: boolean;

  constructor(private readonly options: LongPollClientOptions) {
    this.cookie = options.cookie;
    this.ownAgent = options.agent === undefined;
    this.agent = options.agent ?? new Agent({ connections: 8 });
  }

  /** One poll, raw: any params (or a raw body) as given. */
  async call(
    params: PollParams | undefined,
    init: { signal?: AbortSignal; body?: string; contentType?: string } = {},
  ): Promise<PollResponse> {
    const headers: Record<string, string> = {
      'content-type': init.contentType ?? 'application/json',
      ...this.options.headers,
    };
    if (this.cookie) headers.cookie = this.cookie;
    const body =
      init.body ?? JSON.stringify({ jsonrpc: '2.0', method: 'call', params, id: nextId++ });
    const answer = await request(`${this.options.baseUrl}/longpolling/poll`, {
      method: 'POST',
      headers,
      body,
      dispatcher: this.agent,
      signal: init.signal,
    });
    const text = await answer.body.text();
    const setCookie = answer.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const first = line.split(';')[0] ?? '';
      if (first.startsWith('session_id=')) this.cookie = first;
    }
    let parsed: PollResponse['body'];
    try {
      parsed = JSON.parse(text) as PollResponse['body'];
    } catch {
      parsed = undefined;
    }
    return {
      status: answer.statusCode,
      headers: answer.headers,
      text,
      body: parsed,
    };
  }

  /** A poll as the web client makes it; `last` moves to the highest id received. */
  async poll(
    channels: string[] = [],
    options: Record<string, unknown> = { bus_inactivity: 0 },
    init: { signal?: AbortSignal; last?: number } = {},
  ): Promise<PollResponse> {
    const response = await this.call(
      { channels, last: init.last ?? this.last, options },
      { signal: init.signal },
    );
    const result = response.body?.result;
    if (Array.isArray(result)) {
      for (const item of result as Array<{ id: number }>) {
        if (item.id > this.last) this.last = item.id;
      }
    }
    return response;
  }

  async close(): Promise<void> {
    if (this.ownAgent) await this.agent.close();
  }
}

/** The items of a poll's result, as parsed JSON. */
export function items(response: PollResponse): Array<Record<string, unknown>> {
  const result = response.body?.result;
  if (!Array.isArray(result)) {
    throw new Error(`not a poll result: ${response.status} ${response.text.slice(0, 300)}`);
  }
  return result as Array<Record<string, unknown>>;
}
