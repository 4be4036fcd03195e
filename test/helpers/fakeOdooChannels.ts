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
 * set in Odoo), callers shuffle it.
 */
import type { FakeSession } from './fakeOdooSessions.js';
import type { VersionProfile } from './fakeOdooVersions.js';
import { distinctChannels } from './odooBusEncoding.js';

const CHANNEL_STRING_RE = /discuss\.channel_(\d+)/;
const PRESENCE_STRING_RE = /^odoo-presence-(res\.partner|mail\.guest)_(\d+)(?:-.*)?$/;

export function buildChannelList(
  profile: VersionProfile,
  db: string,
  session: FakeSession,
  clientChannels: readonly string[],
): unknown[] {
  const out: unknown[] = [[db, 'broadcast']];
  const loggedIn = session.uid !== null && session.partnerId !== null;
  if (loggedIn) out.push([db, 'res.partner', session.partnerId]);
  if (loggedIn && profile.addsOwnPresenceAndGroups) {
    out.push([db, 'res.partner', session.partnerId, 'presence']);
    for (const group of session.groupIds) out.push([db, 'res.groups', group]);
  }
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
