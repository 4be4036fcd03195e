import { describe, expect, it } from 'vitest';
import { parseRequestHead } from '../../helpers/clients/httpTap.js';

describe('parseRequestHead', () => {
  it('reads the request line and headers, names lower-cased, repeated ones joined', () => {
    const head = [
      'GET /websocket?version=17.0-1 HTTP/1.1',
      'Host: 127.0.0.1:8069',
      'Upgrade: websocket',
      'Connection: upgrade',
      'X-Forwarded-For: 203.0.113.9',
      'x-forwarded-for: 127.0.0.1',
      'Cookie: session_id=abc; frontend_lang=fr_BE',
    ].join('\r\n');
    expect(parseRequestHead(head)).toEqual({
      method: 'GET',
      path: '/websocket?version=17.0-1',
      headers: {
        host: '127.0.0.1:8069',
        upgrade: 'websocket',
        connection: 'upgrade',
        'x-forwarded-for': '203.0.113.9, 127.0.0.1',
        cookie: 'session_id=abc; frontend_lang=fr_BE',
      },
    });
  });
});
