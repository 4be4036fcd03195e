import { describe, expect, it } from 'vitest';
import {
  checkHandshake,
  isOutdatedClient,
  isSameOrigin,
} from '../../../src/transports/websocket/handshake.js';
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
  request?: string;
  received?: Array<{ op: string; close_code?: number; close_reason?: string }>;
  response_status_line?: string;
  response_head_raw?: string;
  response_body?: string;
}

const recordedBy = (version: string) =>
  readFixture<{ scenarios: Scenario[] }>(version, 'websocket-session.json').scenarios;

describe.each(['odoo17', 'odoo19'])('checkHandshake answers as the recorded %s did', (version) => {
  const scenario = (name: string) => recordedBy(version).find((s) => s.name === name);

  it('answers a missing Origin exactly as recorded', () => {
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
});

describe("checkHandshake follows Odoo's checks", () => {
  it('accepts a valid handshake', () => {
    expect(checkHandshake(valid)).toBeUndefined();
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

  // Odoo raises 426 here; 19's gevent server turns it into a plain 500 (recorded
  // `handshake_sec_websocket_version_12`), which no client relies on: the sidecar keeps the 426.
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

describe('isOutdatedClient reproduces the version checks recorded on Odoo 19', () => {
  const scenarios = recordedBy('odoo19').filter((s) => s.name.startsWith('version_'));

  it('covers the recorded combinations', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(8);
  });

  for (const s of scenarios) {
    it(s.name, () => {
      const requestLine = s.request?.split('\r\n')[0] ?? '';
      const path = requestLine.split(' ')[1] ?? '';
      const version = new URL(path, 'http://odoo').searchParams.get('version') ?? undefined;
      const userAgent = /\r\nUser-Agent: ([^\r]*)/i.exec(s.request ?? '')?.[1];
      const closed = s.received?.find(
        (f) => f.op === 'CLOSE' && f.close_reason === 'OUTDATED_VERSION',
      );
      expect(isOutdatedClient('19.0-2', version, userAgent)).toBe(closed !== undefined);
      if (closed) expect(closed.close_code).toBe(1000);
    });
  }

  it('checks nobody while the worker version is unknown', () => {
    expect(isOutdatedClient(null, undefined, 'Mozilla/5.0')).toBe(false);
    expect(isOutdatedClient(null, 'anything', 'Mozilla/5.0')).toBe(false);
  });
});
