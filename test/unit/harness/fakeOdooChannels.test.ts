import { describe, expect, it } from 'vitest';
import { pythonDumps } from '../../../src/json/pythonJson.js';
import {
  buildChannelList,
  seededRandom,
  shuffled,
} from '../../helpers/fakeOdoo/fakeOdooChannels.js';
import {
  bindParams,
  PythonException,
  pythonInt,
  pythonList,
} from '../../helpers/fakeOdoo/fakeOdooPython.js';
import type { FakeSession } from '../../helpers/fakeOdoo/fakeOdooSessions.js';
import { VERSION_PROFILES } from '../../helpers/fakeOdoo/fakeOdooVersions.js';
import { readFixture } from '../../helpers/fixtures.js';

interface RouteCase {
  name: string;
  client: string;
  request: { path: string; body: { params?: { channels?: unknown } } | string | null };
  response: {
    body_json: { result?: { channels?: unknown[] }; error?: { data: { message: string } } } | null;
  };
}

const routes = readFixture<{ cases: RouteCase[] }>('odoo17', 'http-routes.json');

/** The users of the recording (ids in `http-routes.json` → `meta.ids`). */
const ADMIN: FakeSession = {
  sid: 'a'.repeat(40),
  uid: 2,
  partnerId: 3,
  memberChannels: [1, 2, 3, 4, 5, 6, 7, 8, 9],
  publicChannels: [],
  groupIds: [],
  internal: true,
  isWebsocketSession: true,
};
const DEMO2: FakeSession = {
  ...ADMIN,
  uid: 6,
  partnerId: 7,
  memberChannels: [1, 3, 4, 5, 6, 7, 10],
  publicChannels: [9],
};
const PUBLIC: FakeSession = {
  ...ADMIN,
  uid: null,
  partnerId: null,
  memberChannels: [],
  internal: false,
};

const sessionsByClient: Record<string, FakeSession> = {
  admin: ADMIN,
  'admin-fresh': ADMIN,
  'admin-destroyed': ADMIN,
  demo2: DEMO2,
  'public-visitor': PUBLIC,
  'bogus-cookie': PUBLIC,
};

const texts = (channels: readonly unknown[]): string[] =>
  channels.map((c) => pythonDumps(c)).sort();

describe('buildChannelList reproduces every recorded peek channel list', () => {
  const cases = routes.cases.filter(
    (c) =>
      c.request.path === '/websocket/peek_notifications' &&
      c.response.body_json?.result?.channels !== undefined,
  );

  it('covers the recorded cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  for (const c of cases) {
    it(c.name, () => {
      const session = sessionsByClient[c.client];
      if (session === undefined) throw new Error(`no session for client ${c.client}`);
      const body = c.request.body as { params: { channels: string[] } };
      const built = buildChannelList(
        VERSION_PROFILES['17.0-20240709'],
        'odoo17',
        session,
        body.params.channels,
      );
      expect(texts(built)).toEqual(texts(c.response.body_json?.result?.channels ?? []));
    });
  }
});

describe('buildChannelList reproduces every recorded Odoo 19 peek channel list, in order', () => {
  const routes19 = readFixture<{ cases: RouteCase[] }>('odoo19', 'http-routes.json');
  const cases = routes19.cases.filter(
    (c) =>
      c.request.path === '/websocket/peek_notifications' &&
      c.response.body_json?.result?.channels !== undefined,
  );
  // The users of the 19 recording (`meta.ids`, and `all_group_ids` as the recorded lists show).
  const admin: FakeSession = {
    ...ADMIN,
    sid: 'A'.repeat(84),
    memberChannels: [1, 2, 3, 4, 5, 6],
    groupIds: [4, 1, 2, 3, 7, 8, 9, 13, 14, 15],
  };
  const demo3: FakeSession = {
    ...admin,
    uid: 6,
    partnerId: 7,
    memberChannels: [1],
    publicChannels: [5, 6],
    groupIds: [1, 7],
  };
  const demo2: FakeSession = { ...demo3, uid: 5, partnerId: 6, memberChannels: [1, 3, 4, 5] };
  const visitor: FakeSession = { ...PUBLIC, publicChannels: [5, 6] };
  const sessions19: Record<string, FakeSession> = {
    admin,
    demo3,
    'demo3-rotation': demo3,
    'demo3-old-sid': demo3,
    demo2,
    public: visitor,
    unknown: visitor,
  };
  const validCase = routes19.cases.find((c) => c.name === 'public_presence_valid_token');
  const validBody = validCase?.request.body as { params: { channels: string[] } } | undefined;
  const validToken = validBody?.params.channels[0]?.split('-').at(-1);

  it('covers the recorded cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  for (const c of cases) {
    it(c.name, () => {
      const session = sessions19[c.client];
      if (session === undefined) throw new Error(`no session for client ${c.client}`);
      const body = c.request.body as { params: { channels: string[] } };
      const built = buildChannelList(
        VERSION_PROFILES['19.0'],
        'odoo19',
        session,
        body.params.channels,
        (_model, _id, token) => token === validToken,
      );
      // The exact texts in the exact order: Odoo 19 builds an ordered set.
      expect(built.map((ch) => pythonDumps(ch))).toEqual(
        (c.response.body_json?.result?.channels ?? []).map((ch) => pythonDumps(ch)),
      );
    });
  }
});

describe('other versions', () => {
  it('16 uses mail.channel without subchannels and keeps strings as they are', () => {
    const built = buildChannelList(
      VERSION_PROFILES['16.0'],
      'db',
      { ...ADMIN, memberChannels: [2] },
      ['mail.channel_5'],
    );
    expect(texts(built)).toEqual(
      texts([
        ['db', 'broadcast'],
        ['db', 'res.partner', 3],
        ['db', 'mail.channel', 2],
        ['db', 'mail.channel_5'],
      ]),
    );
  });
});

describe('shuffled', () => {
  it('is a reproducible permutation', () => {
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const a = shuffled(items, seededRandom(1));
    expect([...a].sort()).toEqual(items);
    expect(shuffled(items, seededRandom(1))).toEqual(a);
  });
});

describe('Python semantics of the routes', () => {
  const recordedError = (name: string): string => {
    const c = routes.cases.find((x) => x.name === name);
    return c?.response.body_json?.error?.data.message ?? '';
  };

  it('words a missing argument like Python', () => {
    expect(() =>
      bindParams('WebsocketController.peek_notifications', { channels: [] }, ['channels', 'last']),
    ).toThrow(recordedError('admin_peek_missing_last'));
    expect(() =>
      bindParams('WebsocketController.update_bus_presence', { inactivity_period: 0 }, [
        'inactivity_period',
        'im_status_ids_by_model',
      ]),
    ).toThrow(recordedError('update_presence_missing_param'));
    expect(() => bindParams('f', {}, ['a', 'b', 'c'])).toThrow(
      "f() missing 3 required positional arguments: 'a', 'b', and 'c'",
    );
  });

  it('converts like int()', () => {
    expect(pythonInt(' 42 ')).toBe(42);
    expect(pythonInt(3.9)).toBe(3);
    expect(pythonInt(true)).toBe(1);
    expect(() => pythonInt('abc')).toThrow(recordedError('update_presence_bad_inactivity'));
    expect(() => pythonInt(null)).toThrow(PythonException);
  });

  it('iterates like list()', () => {
    expect(pythonList('ab')).toEqual(['a', 'b']);
    expect(pythonList({ k: 1 })).toEqual(['k']);
    expect(() => pythonList(3)).toThrow("'int' object is not iterable");
  });
});
