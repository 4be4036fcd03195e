/**
 * What differs between the Odoo versions the fake can play. `17.0-20240709` is the recorded build
 * (`fixtures/odoo17/`); the others follow `odoo-bus-protocol.md` (16–18) and `odoo19-bus.md` (19),
 * and only in the few points the sidecar depends on. 12.0-15.0 serve long polling, whose shapes
 * `fakeOdooLongpolling.ts` takes from each version's source.
 */

export type FakeOdooVersion =
  | '12.0'
  | '13.0'
  | '14.0'
  | '15.0'
  | '17.0-20240709'
  | '17.0-late'
  | '16.0'
  | '18.0'
  | '19.0';

export interface VersionProfile {
  /** How the bus reaches browsers: long polling up to 15.0, a websocket from 16.0. */
  transport: 'longpolling' | 'websocket';
  serverVersion: string;
  serverVersionInfo: unknown[];
  /** `WebsocketConnectionHandler._VERSION`, or null where the build has none. */
  workerVersion: string | null;
  /** The discuss channel model: `mail.channel` in 16, `discuss.channel` after. */
  channelModel: string;
  /** Subchannel added for member channels; 16 has none. */
  memberSubchannel: string | null;
  /** `discuss.channel_<id>` client strings are resolved (17+). */
  resolvesChannelStrings: boolean;
  /** `odoo-presence-<model>_<id>` client strings become presence channels (late 17+). */
  resolvesPresenceStrings: boolean;
  /** 19: the user's own `(partner, "presence")` and its groups are always subscribed. */
  addsOwnPresenceAndGroups: boolean;
  /** `/websocket/on_closed` exists (late 17+). */
  hasOnClosed: boolean;
  /** `update_bus_presence` requires `im_status_ids_by_model` (16–18; 19 dropped it). */
  presenceRequiresImStatus: boolean;
}

const final = (major: number): unknown[] => [major, 0, 0, 'final', 0, ''];

/** Late 17.0 (the version `odoo-bus-protocol.md` describes) and 18.0 behave alike here. */
const LATE_17: VersionProfile = {
  transport: 'websocket',
  serverVersion: '17.0',
  serverVersionInfo: final(17),
  workerVersion: '17.0-1',
  channelModel: 'discuss.channel',
  memberSubchannel: 'members',
  resolvesChannelStrings: true,
  resolvesPresenceStrings: true,
  addsOwnPresenceAndGroups: false,
  hasOnClosed: true,
  presenceRequiresImStatus: true,
};

/** 12.0-15.0: long polling (`fakeOdooLongpolling.ts`); the websocket fields do not apply. */
function longpolling(major: number): VersionProfile {
  return {
    ...LATE_17,
    transport: 'longpolling',
    serverVersion: `${major}.0`,
    serverVersionInfo: final(major),
    workerVersion: null,
    channelModel: 'mail.channel',
    memberSubchannel: null,
    resolvesChannelStrings: false,
    resolvesPresenceStrings: false,
    hasOnClosed: false,
  };
}

export const VERSION_PROFILES: Readonly<Record<FakeOdooVersion, VersionProfile>> = {
  '12.0': longpolling(12),
  '13.0': longpolling(13),
  '14.0': longpolling(14),
  '15.0': longpolling(15),
  '16.0': {
    ...LATE_17,
    serverVersion: '16.0',
    serverVersionInfo: final(16),
    workerVersion: null,
    channelModel: 'mail.channel',
    memberSubchannel: null,
    resolvesChannelStrings: false,
    resolvesPresenceStrings: false,
    hasOnClosed: false,
  },
  '17.0-20240709': {
    ...LATE_17,
    serverVersion: '17.0-20240709',
    workerVersion: null,
    resolvesPresenceStrings: false,
    hasOnClosed: false,
  },
  '17.0-late': LATE_17,
  '18.0': {
    ...LATE_17,
    serverVersion: '18.0',
    serverVersionInfo: final(18),
    workerVersion: '18.0-7',
  },
  '19.0': {
    ...LATE_17,
    serverVersion: '19.0',
    serverVersionInfo: final(19),
    workerVersion: '19.0-2',
    memberSubchannel: 'internal_users',
    addsOwnPresenceAndGroups: true,
    presenceRequiresImStatus: false,
  },
};
