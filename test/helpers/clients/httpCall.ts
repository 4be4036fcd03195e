/**
 * A plain `node:http` call for tests that compare answers with the recordings: unlike `fetch`, it
 * keeps header names and their order as they came off the wire.
 */
import { request as httpRequest } from 'node:http';

export interface HttpAnswer {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: string;
}

export function httpCall(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers: Array<[string, string]> = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            headers.push([res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? '']);
          }
          resolve({
            status: res.statusCode ?? 0,
            reason: res.statusMessage ?? '',
            headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
