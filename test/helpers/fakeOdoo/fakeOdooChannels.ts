/**
 * `ir.websocket._build_bus_channel_list` of bus + mail, then `channel_with_db`, as the recorded
 * 17.0 build answered `peek_notifications` (`http-routes.json`):
 * - always `[db, "broadcast"]`; a logged-in user also gets `[db, "res.partner", <partner>]`;
 * - every member discuss channel, plus its `[..., "members"]` subchannel;
 * - client strings: `discuss.channel_<id>` anywhere in the string (regex, first match) asks for that
 *   channel: granted if member (and its "members" subchannel is then dropped) or readable (public,
 *   granted without subchannel), else silently dropped; `mail.guest_<token>` is consumed; any other
 *   string becomes `[db, string]`.
 * Later versions add what their profile says. Deduplicated; the order is not meaningful (a Python
 * set in Odoo), callers shuffle it. Odoo 19 builds an ordered list instead (`buildChannelList19`).
 */
import type { FakeSession } from './fakeOdooSessions.js';
import type { VersionProfile } from './fakeOdooVersions.js';
import { distinctChannels } from './odooBusEncoding.js';

const CHANNEL_STRING_RE = /discuss\.channel_(\d+)/;
const PRESENCE_STRING_RE = /^odoo-presence-(res\.partner|mail\.guest)_(\d+)(?:-.*)?$/;

/** Whether a presence token is the one Odoo would accept for that record (fake: `FakeOdoo.presenceToken`). */
export type PresenceTokenCheck = (model: string, id: number, token: string) => boolean;

export function buildChannelList(
  profile: VersionProfile,
  db: string,
  session: FakeSession,
  clientChannels: readonly string[],
  tokenValid: PresenceTokenCheck = () => false,
): unknown[] {
  if (profile.odoo19Channels) {
    return buildChannelList19(profile, db, session, clientChannels, tokenValid);
  }
  const out: unknown[] = [[db, 'broadcast']];
  const loggedIn = session.uid !== null && session.partnerId !== null;
  if (loggedIn) out.push([db, 'res.partner', session.partnerId]);
  const requested = new Set<number>();
  for (const name of clientChannels) {
    const channelMatch = profile.resolvesChannelStrings ? CHANNEL_STRING_RE.exec(name) : null;
    const presenceMatch = profile.resolvesPresenceStrings ? PRESENCE_STRING_RE.exec(name) : null;
    if (channelMatch !== null) requested.add(Number(channelMatch[1]));
    else if (presenceMatch !== null) {
      // Only internal users may watch presences; others' requests vanish.
      if (session.internal) out.push([db, presenceMatch[1], Number(presenceMatch[2]), 'presence']);
    } else if (profile.resolvesChannelStrings && name.startsWith('mail.guest_')) {
      // A guest token: consumed (the fake knows no guests).
    } else out.push([db, name]);
  }
  const readable = new Set([...session.memberChannels, ...session.publicChannels]);
  const members = new Set(session.memberChannels);
  const granted = new Set([...members, ...[...requested].filter((id) => readable.has(id))]);
  for (const id of granted) {
    out.push([db, profile.channelModel, id]);
    if (profile.memberSubchannel !== null && members.has(id) && !requested.has(id)) {
      out.push([db, profile.channelModel, id, profile.memberSubchannel]);
    }
  }
  return distinctChannels(out);
}

const PRESENCE_PREFIX = 'odoo-presence-';
/** mail's `PRESENCE_CHANNEL_REGEX` of 19: the token is `<64 hex>o0x<hex>`. */
const PRESENCE_19_RE =
  /^odoo-presence-(res\.partner|mail\.guest)_(\d+)(?:-([a-f0-9]{64}o0x[a-f0-9]+))?$/;

/**
 * Odoo 19's `_prepare_subscribe_data` → `_build_bus_channel_list` (bus, mail, discuss), in its order
 * (an `OrderedSet`), as `http-routes.json` of 19 recorded it:
 * 1. the client's plain strings as `[db, string]` (`discuss.channel_<id>` anywhere in a string asks
 *    for that channel, `mail.guest_<token>` is consumed, `odoo-presence-…` strings are taken out);
 * 2. the discuss channels the user is a member of or asked for and may read, by id;
 * 3. for a non-share (internal) user, `[…, "internal_users"]` of each of them;
 * 4. `broadcast`, the user's groups (`all_group_ids`; the public user has its own), the partner;
 * 5. `(partner, "presence")` of each asked presence the user may see (internal users see all; others
 *    need the record's token), then the user's own; malformed presence strings are dropped (and
 *    logged by Odoo). The fake knows no guests.
 */
function buildChannelList19(
  profile: VersionProfile,
  db: string,
  session: FakeSession,
  clientChannels: readonly string[],
  tokenValid: PresenceTokenCheck,
): unknown[] {
  const strings: unknown[] = [];
  const requested: number[] = [];
  const presences: number[] = [];
  for (const name of clientChannels) {
    if (name.startsWith('mail.guest_')) continue;
    const channelMatch = CHANNEL_STRING_RE.exec(name);
    if (channelMatch !== null) {
      requested.push(Number(channelMatch[1]));
      continue;
    }
    if (name.startsWith(PRESENCE_PREFIX)) {
      const match = PRESENCE_19_RE.exec(name);
      if (match === null || match[1] !== 'res.partner') continue;
      const id = Number(match[2]);
      if (session.internal || tokenValid(match[1], id, match[3] ?? '')) presences.push(id);
      continue;
    }
    strings.push([db, name]);
  }
  const loggedIn = session.uid !== null && session.partnerId !== null;
  const readable = new Set([...session.memberChannels, ...session.publicChannels]);
  const channels = [
    ...new Set([...session.memberChannels, ...requested.filter((id) => readable.has(id))]),
  ].sort((a, b) => a - b);
  const out: unknown[] = [...strings];
  for (const id of channels) out.push([db, profile.channelModel, id]);
  if (session.internal && profile.memberSubchannel !== null) {
    for (const id of channels) out.push([db, profile.channelModel, id, profile.memberSubchannel]);
  }
  out.push([db, 'broadcast']);
  const groups = loggedIn ? session.groupIds : profile.publicGroupIds;
  for (const group of groups) out.push([db, 'res.groups', group]);
  if (loggedIn) out.push([db, 'res.partner', session.partnerId]);
  for (const id of presences) out.push([db, 'res.partner', id, 'presence']);
  if (loggedIn) out.push([db, 'res.partner', session.partnerId, 'presence']);
  return distinctChannels(out);
}

/** A small seeded PRNG (mulberry32), so "arbitrary order" is reproducible run to run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
