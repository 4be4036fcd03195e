import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  clientIdentity,
  identityHeaders,
  ProxyTrust,
} from '../../../src/transports/clientIdentity.js';

function request(peer: string, headers: Record<string, string | string[]>): IncomingMessage {
  return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

const proxied = {
  host: 'sidecar:8072',
  'x-forwarded-for': '198.51.100.7, 203.0.113.5',
  'x-forwarded-host': 'erp.example.com',
  'x-forwarded-proto': 'https',
};

describe('clientIdentity', () => {
  const trust = new ProxyTrust(true, ['127.0.0.0/8', '::1', '10.1.0.0/16']);

  it("believes a trusted proxy's last hop, as Odoo's ProxyFix (x_for=1)", () => {
    for (const peer of ['127.0.0.1', '::ffff:127.0.0.1', '::1', '10.1.2.3']) {
      expect(clientIdentity(request(peer, proxied), trust)).toEqual({
        address: '203.0.113.5',
        host: 'erp.example.com',
        proto: 'https',
        forwardedFor: '198.51.100.7, 203.0.113.5',
        viaTrustedProxy: true,
      });
    }
  });

  it('believes nothing from other peers, without proxy mode, or without X-Forwarded-Host', () => {
    const plain = { address: '10.2.0.9', host: 'sidecar:8072', proto: 'http' };
    expect(clientIdentity(request('10.2.0.9', proxied), trust)).toMatchObject(plain);
    const off = new ProxyTrust(false, ['0.0.0.0/0']);
    expect(clientIdentity(request('10.2.0.9', proxied), off)).toMatchObject(plain);
    const { 'x-forwarded-host': _, ...noHost } = proxied;
    expect(clientIdentity(request('127.0.0.1', noHost), trust)).toMatchObject({
      address: '127.0.0.1',
      viaTrustedProxy: false,
    });
  });

  it('tells Odoo the same client, in headers that replace the client-sent ones', () => {
    expect(identityHeaders(clientIdentity(request('10.2.0.9', proxied), trust))).toEqual({
      'x-forwarded-for': '10.2.0.9',
      'x-forwarded-host': 'sidecar:8072',
      'x-forwarded-proto': 'http',
      'x-real-ip': '10.2.0.9',
    });
  });

  it('refuses trusted proxies that are not addresses', async () => {
    const { loadConfig } = await import('../../../src/config/load.js');
    expect(() => loadConfig({ argv: ['--trusted-proxies', 'nginx'], env: {} })).toThrow(
      /trustedProxies.*"nginx" is not an IP address/,
    );
    expect(() => loadConfig({ argv: ['--trusted-proxies', '10.0.0.0/33'], env: {} })).toThrow(
      /trustedProxies/,
    );
  });
});
