/**
 * What differs between the Odoo versions the fake can play. `17.0-20240709` is the recorded build
 * (`fixtures/odoo17/`), `19.0` the recorded 19.0 (`test/fixtures/odoo19/`); 16.0, late 17.0 and
 * 18.0 follow `odoo-bus-protocol.md`, and only in the few points the sidecar depends on. 12.0-15.0
 * serve long polling, whose shapes `fakeOdooLongpolling.ts` takes from each version's source.
 */
import { randomBytes } from 'node:crypto';
import { type Generation, generationOf } from '../../../src/odoo/generations.js';

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
  /**
   * 19: the channel list is built in Odoo 19's order (`OrderedSet`, not a set), the user's own
   * `(partner, "presence")` and groups are always there, the public user has its group, presence
   * strings need a valid token unless the user is internal, and asking for a member channel keeps
   * its subchannel (`http-routes.json` of 19: `admin_peek_*`, `demo3_peek_*`, `public_*`).
   */
  odoo19Channels: boolean;
  /** `/websocket/on_closed` exists (late 17+). */
  hasOnClosed: boolean;
  /** `update_bus_presence` requires `im_status_ids_by_model` (16–18; 19 dropped it). */
  presenceRequiresImStatus: boolean;
  /** The Python name of the presence route's function, as TypeErrors word it. */
  presenceFunction: string;
  /** JSON-RPC `code` of a server error: 200 up to 18, 0 in 19 (`admin_peek_non_string_channel`). */
  serverErrorCode: 0 | 200;
  /** Key order of `error.data` (recorded: 17 puts `debug` second, 19 last). */
  errorDataKeys: readonly string[];
  /** Status of a GET on a JSON route: 400 in 17, 415 with an `Accept` header in 19 (`peek_get_method`). */
  wrongRequestType: { status: 400 | 415; routeType: 'json' | 'jsonrpc'; compatible: string };
  /** A well-formed session id (anything else gets a new session). */
  sidPattern: RegExp;
  newSid: () => string;
  /**
   * 19: sessions rotate (`next_sid`, `deletion_time`), and a successful answer carries `Set-Cookie`
   * whenever the request's sid is not the session's (new visitor, rotated session).
   */
  rotatesSessions: boolean;
  /** Groups of the public user, subscribed as `res.groups` channels (19). */
  publicGroupIds: readonly number[];
}

/** The fields of a profile that the generations table gives (`fromGeneration`). */
type FromTable = 'transport' | 'presenceRequiresImStatus' | 'serverErrorCode' | 'rotatesSessions';
type BuildProfile = Omit<VersionProfile, FromTable>;

const final = (major: number): unknown[] => [major, 0, 0, 'final', 0, ''];

const hex40 = (): string => randomBytes(20).toString('hex');
/** Odoo 19's `generate_key`: 63 bytes, URL-safe base64, 84 characters. */
const base64url84 = (): string => randomBytes(63).toString('base64url');

/** Late 17.0 (the version `odoo-bus-protocol.md` describes) and 18.0 behave alike here. */
const LATE_17: BuildProfile = {
  serverVersion: '17.0',
  serverVersionInfo: final(17),
  workerVersion: '17.0-1',
  channelModel: 'discuss.channel',
  memberSubchannel: 'members',
  resolvesChannelStrings: true,
  resolvesPresenceStrings: true,
  odoo19Channels: false,
  hasOnClosed: true,
  presenceFunction: 'WebsocketController.update_bus_presence',
  errorDataKeys: ['name', 'debug', 'message', 'arguments', 'context'],
  wrongRequestType: { status: 400, routeType: 'json', compatible: "['http']" },
  sidPattern: /^[a-f0-9]{40}$/,
  newSid: hex40,
  publicGroupIds: [],
};

/**
 * 12.0-16.0: `mail.channel`, no member sub-channels, channel and presence strings not resolved, no
 * `on_closed`. 12-15 serve long polling (`fakeOdooLongpolling.ts`; the websocket fields do not
 * apply), 16 the websocket: the generations table says which.
 */
function before17(major: number): BuildProfile {
  return {
    ...LATE_17,
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

/**
 * What the sidecar's own table of generations says (`src/odoo/generations.ts`) is taken from it,
 * so that the fake and the sidecar cannot drift apart on those facts; the rest is per build.
 */
function fromGeneration(profile: BuildProfile): VersionProfile {
  const generation: Generation = generationOf(profile.serverVersionInfo[0] as number);
  return {
    ...profile,
    transport: generation.transport,
    presenceRequiresImStatus: generation.presenceParams.includes('im_status_ids_by_model'),
    serverErrorCode: generation.serverErrorCode,
    rotatesSessions: generation.rotatesSessions,
  };
}

const PROFILES: Readonly<Record<FakeOdooVersion, BuildProfile>> = {
  '12.0': before17(12),
  '13.0': before17(13),
  '14.0': before17(14),
  '15.0': before17(15),
  '16.0': before17(16),
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
    odoo19Channels: true,
    // `update_presence_missing_param`: the route moved to mail's WebsocketControllerPresence.
    presenceFunction: 'WebsocketControllerPresence.update_bus_presence',
    errorDataKeys: ['name', 'message', 'arguments', 'context', 'debug'],
    wrongRequestType: { status: 415, routeType: 'jsonrpc', compatible: "['http', 'json2']" },
    // `unknown_wellformed_cookie_first_poll` (84 x A adopted), `bogus_cookie_*` (deadbeef refused).
    sidPattern: /^[A-Za-z0-9_-]{84}$/,
    newSid: base64url84,
    // `public_no_cookie_first_poll`: `[["odoo19","broadcast"],["odoo19","res.groups",11]]`.
    publicGroupIds: [11],
  },
};

export const VERSION_PROFILES: Readonly<Record<FakeOdooVersion, VersionProfile>> =
  Object.fromEntries(
    Object.entries(PROFILES).map(([version, profile]) => [version, fromGeneration(profile)]),
  ) as Record<FakeOdooVersion, VersionProfile>;
