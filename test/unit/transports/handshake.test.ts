import { describe, expect, it } from 'vitest';
import { checkHandshake, isSameOrigin } from '../../../src/transports/websocket/handshake.js';
import { readFixture } from '../../helpers/fixtures.js';

const valid = {
  connection: 'Upgrade',
  host: '127.0.0.1:8072',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-version': '13',
  upgrade: 'websocket',
  origin: 'http://127.0.0.1:8069',
};

interface Scenario {
  name: string;
  response_status_line?: string;
  response_head_raw?: string;
  response_body?: string;
}

const recorded = readFixture<{ scenarios: Scenario[] }>(
  'odoo17',
  'websocket-session.json',
).scenarios;
const scenario = (name: string) => recorded.find((s) => s.name === name);

describe("checkHandshake follows Odoo's checks", () => {
  it('accepts a valid handshake', () => {
    expect(checkHandshake(valid)).toBeUndefined();
  });

  it('answers a missing Origin exactly as the recorded Odoo 17 did', () => {
    const { origin: _origin, ...headers } = valid;
    const rejection = checkHandshake(headers);
    const recordedCase = scenario('handshake_missing_origin');
    expect(rejection?.status).toBe(400);
    expect(rejection?.body).toBe(recordedCase?.response_body);
    expect(recordedCase?.response_head_raw).toContain('Content-Type: text/html; charset=utf-8');
  });

  it('answers a 15-byte key exactly as recorded', () => {
    const rejection = checkHandshake({ ...valid, 'sec-websocket-key': 'BwcHBwcHBwcHBwcHBwcH' });
    expect(rejection?.body).toBe(scenario('handshake_key_15_bytes')?.response_body);
  });

  it('answers a key that is not base64 exactly as recorded', () => {
    const rejection = checkHandshake({ ...valid, 'sec-websocket-key': 'not base64!' });
    expect(rejection?.body).toBe(scenario('handshake_key_not_base64')?.response_body);
  });

  it('lists every missing header, treating empty ones as missing', () => {
    expect(checkHandshake({ host: 'h', origin: '' })?.body).toContain(
      'Empty or missing header(s): connection, sec-websocket-key, sec-websocket-version, upgrade, origin',
    );
  });

  it('refuses another upgrade or connection header with 400', () => {
    expect(checkHandshake({ ...valid, upgrade: 'h2c' })?.body).toContain('Invalid upgrade header');
    expect(checkHandshake({ ...valid, connection: 'keep-alive' })?.body).toContain(
      'Invalid connection header',
    );
  });

  it('answers another websocket version with 426 and Sec-WebSocket-Version: 13', () => {
    const rejection = checkHandshake({ ...valid, 'sec-websocket-version': '12' });
    expect(rejection?.status).toBe(426);
    expect(rejection?.headers['Sec-WebSocket-Version']).toBe('13');
  });
});

describe('isSameOrigin', () => {
  it('compares host and port, ignoring default ports', () => {
    expect(isSameOrigin('http://odoo.example.com', 'odoo.example.com:80', 'http')).toBe(true);
    expect(isSameOrigin('https://odoo.example.com:443', 'odoo.example.com', 'https')).toBe(true);
    expect(isSameOrigin('http://localhost:8069', 'localhost:8069', undefined)).toBe(true);
    expect(isSameOrigin('http://evil.example', 'odoo.example.com', 'http')).toBe(false);
    expect(isSameOrigin('http://localhost:8070', 'localhost:8069', undefined)).toBe(false);
    expect(isSameOrigin('null', 'localhost', undefined)).toBe(false);
  });

  it('compares schemes only when the proxy says which one the browser used', () => {
    expect(isSameOrigin('http://odoo.example.com', 'odoo.example.com', 'https')).toBe(false);
    expect(isSameOrigin('https://odoo.example.com', 'odoo.example.com', undefined)).toBe(true);
  });
});
