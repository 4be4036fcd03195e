import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { busRoutesOf, ODOO_BUS_ROUTES } from '../../../src/transports/busRoutes.js';
import { normalisedPath, readTarget } from '../../../src/transports/requestTarget.js';

/** The route a raw target is forwarded as, or why it is not. */
function routeOf(raw: string, major?: number): string {
  const target = readTarget(raw);
  if (target === undefined) return 'bad request';
  const route = normalisedPath(target.path);
  return busRoutesOf(major).has(route) ? route : 'not found';
}

describe('request targets', () => {
  it.each([
    ['//websocket:99999'],
    ['//['],
    ['//websocket%zz'],
    ['/websocket%zz'],
    ['/\\\\evil.example/websocket'],
    ['websocket'],
    [''],
  ])('refuses %j as a bad request', (raw) => {
    expect(readTarget(raw)).toBeUndefined();
  });

  it('keeps the query as sent and decodes the path once', () => {
    expect(readTarget('/websocket?version=17.0-1&x=%zz')).toEqual({
      path: '/websocket',
      query: 'version=17.0-1&x=%zz',
    });
    expect(readTarget('/a%252e%2e')).toEqual({ path: '/a%2e.', query: '' });
  });

  it.each([
    ['/websocket/..\\web\\database\\manager', '/web/database/manager'],
    ['/websocket/../web/database/list', '/web/database/list'],
    ['/websocket/peek_notifications/../../web', '/web'],
    ['/websocket/./peek_notifications', '/websocket/peek_notifications'],
    ['/../../websocket', '/websocket'],
    ['/websocket//x', '/websocket//x'],
    ['/websocket/x/..', '/websocket/'],
  ])('normalises %j as URL parsers do: %j', (path, normalised) => {
    expect(normalisedPath(path)).toBe(normalised);
    expect(new URL(path, 'http://odoo.example').pathname).toBe(normalised);
  });
});

describe("Odoo's bus routes", () => {
  it.each([
    ['/websocket/..\\web\\database\\manager'],
    ['/websocket/%2e%2e/web/database/list'],
    ['/longpolling/../web/database/list'],
    ['/websocket/..%2fweb%2fdatabase%2fdrop'],
    ['/websocket/%2E%2E%5Cweb%5Cdatabase%5Cmanager'],
    ['/longpolling/%252e%252e/web/database/list'],
    ['/websocket//web/database/manager'],
    ['/websocket/peek_notifications%00'],
    ['/websocket/peek_notifications/'],
    ['/websocket/custom_route'],
  ])('%j is not one', (raw) => {
    expect(routeOf(raw)).toBe('not found');
  });

  it('forwards each version its own routes, and every version some while it is unknown', () => {
    expect(routeOf('/longpolling/poll?x', 15)).toBe('/longpolling/poll');
    expect(routeOf('/longpolling/poll', 16)).toBe('not found');
    expect(routeOf('/longpolling/send', 14)).toBe('/longpolling/send');
    expect(routeOf('/longpolling/send', 15)).toBe('not found');
    expect(routeOf('/websocket/on_closed', 16)).toBe('not found');
    expect(routeOf('/websocket/on_closed', 19)).toBe('/websocket/on_closed');
    expect(routeOf('/websocket/update_bus_presence', 12)).toBe('not found');
    expect(routeOf('/websocket/./update_bus_presence')).toBe('/websocket/update_bus_presence');
    for (const routes of Object.values(ODOO_BUS_ROUTES))
      for (const route of routes) expect(busRoutesOf(undefined).has(route)).toBe(true);
  });

  it('whatever the query, the URL built for Odoo keeps the route as its path', () => {
    const routes = [...busRoutesOf(undefined)];
    fc.assert(
      fc.property(fc.constantFrom(...routes), fc.string(), (route, query) => {
        const target = readTarget(`${route}?${query}`);
        if (target === undefined) return;
        const url = new URL(`http://odoo.example${route}?${target.query}`);
        expect(url.pathname).toBe(route);
        expect(url.host).toBe('odoo.example');
      }),
      { numRuns: 2000 },
    );
  });

  it('no spelling made of dots, slashes, backslashes and escapes reaches another route', () => {
    const piece = fc.constantFrom(
      '/',
      '\\',
      '.',
      '..',
      '%2e',
      '%2E',
      '%2f',
      '%5c',
      '%252e',
      'web',
      'database',
      'websocket',
      'longpolling',
      'peek_notifications',
      'poll',
    );
    fc.assert(
      fc.property(
        fc.constantFrom('/websocket/', '/longpolling/'),
        fc.array(piece, { maxLength: 12 }),
        (prefix, pieces) => {
          const raw = prefix + pieces.join('');
          const route = routeOf(raw);
          if (route === 'bad request' || route === 'not found') return;
          // Forwarded only if a URL parser reads the decoded target as that very route.
          const decoded = decodeURIComponent(raw);
          expect(new URL(decoded, 'http://odoo.example').pathname).toBe(route);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
