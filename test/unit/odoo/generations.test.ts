/**
 * The generations table against README "Odoo versions" and "Long polling (Odoo 12.0–15.0)": each
 * major's facts as the README states them, and the lookups' answers outside 12-19.
 */
import { describe, expect, it } from 'vitest';
import {
  GENERATIONS,
  generationOf,
  majorOf,
  type OdooMajor,
} from '../../../src/odoo/generations.js';
import { VERSION_PROFILES } from '../../helpers/fakeOdoo/fakeOdooVersions.js';

const MAJORS: OdooMajor[] = [12, 13, 14, 15, 16, 17, 18, 19];
const byMajor = (pick: (major: OdooMajor) => unknown) =>
  Object.fromEntries(MAJORS.map((major) => [major, pick(major)]));

describe('the generations table', () => {
  it('has one entry per major 12-19, each naming its own major', () => {
    expect(Object.keys(GENERATIONS).map(Number)).toEqual(MAJORS);
    for (const major of MAJORS) expect(GENERATIONS[major].major).toBe(major);
  });

  it('long polling for 12-15, websockets for 16-19', () => {
    expect(byMajor((m) => GENERATIONS[m].transport)).toEqual({
      12: 'longpolling',
      13: 'longpolling',
      14: 'longpolling',
      15: 'longpolling',
      16: 'websocket',
      17: 'websocket',
      18: 'websocket',
      19: 'websocket',
    });
  });

  it("forwards Odoo's own bus routes: send before 15, on_closed from 17", () => {
    const poll = ['/longpolling/poll', '/longpolling/im_status'];
    const socket = ['/websocket/peek_notifications', '/websocket/update_bus_presence'];
    for (const m of [12, 13, 14] as const) {
      expect(GENERATIONS[m].routes).toEqual([...poll, '/longpolling/send']);
    }
    expect(GENERATIONS[15].routes).toEqual(poll);
    expect(GENERATIONS[16].routes).toEqual(socket);
    for (const m of [17, 18, 19] as const) {
      expect(GENERATIONS[m].routes).toEqual([...socket, '/websocket/on_closed']);
    }
  });

  it('presence: bus_inactivity in the poll (12-15), im_status_ids_by_model (16-18), inactivity_period only (19)', () => {
    for (const m of [12, 13, 14, 15] as const) {
      expect(GENERATIONS[m].presenceParams).toEqual(['bus_inactivity']);
    }
    for (const m of [16, 17, 18] as const) {
      expect(GENERATIONS[m].presenceParams).toEqual([
        'inactivity_period',
        'im_status_ids_by_model',
      ]);
    }
    expect(GENERATIONS[19].presenceParams).toEqual(['inactivity_period']);
  });

  it('poll items carry their channel on 12-14, not on 15; 12 alone adds im_status items', () => {
    expect(byMajor((m) => GENERATIONS[m].pollItem)).toEqual({
      12: 'id-channel-message',
      13: 'id-channel-message',
      14: 'id-channel-message',
      15: 'id-message',
      16: null,
      17: null,
      18: null,
      19: null,
    });
    expect(MAJORS.filter((m) => GENERATIONS[m].pollPresenceItems)).toEqual([12]);
  });

  it("the poll route's cors from 13.0 on", () => {
    expect(MAJORS.filter((m) => GENERATIONS[m].pollCors)).toEqual([13, 14, 15]);
  });

  it("19 only: the client's 0x00 probe, soft session rotation, server errors as code 0", () => {
    expect(MAJORS.filter((m) => GENERATIONS[m].clientProbe)).toEqual([19]);
    expect(MAJORS.filter((m) => GENERATIONS[m].rotatesSessions)).toEqual([19]);
    expect(byMajor((m) => GENERATIONS[m].serverErrorCode)).toEqual({
      ...byMajor(() => 200),
      19: 0,
    });
  });
});

describe('generationOf', () => {
  it('unknown major: no generation', () => {
    expect(generationOf(undefined)).toBeUndefined();
  });

  it('a major outside 12-19 is taken for the nearest known one', () => {
    expect(generationOf(11)).toBe(GENERATIONS[12]);
    expect(generationOf(20)).toBe(GENERATIONS[19]);
    expect(generationOf(17)).toBe(GENERATIONS[17]);
  });
});

describe('majorOf', () => {
  it('reads server_version_info first, server_version else', () => {
    expect(majorOf([17, 0, 0, 'final', 0, ''], '16.0')).toBe(17);
    expect(majorOf(undefined, '17.0-20240709')).toBe(17);
    expect(majorOf(['x'], 'saas~17.2')).toBe(17);
    expect(majorOf(null, 'master')).toBeUndefined();
    expect(majorOf(undefined, 19)).toBeUndefined();
  });
});

describe('the fake Odoo plays the same table', () => {
  it.each(Object.entries(VERSION_PROFILES))('%s', (_version, profile) => {
    const generation = generationOf(profile.serverVersionInfo[0] as number);
    expect(profile.transport).toBe(generation.transport);
    expect(profile.rotatesSessions).toBe(generation.rotatesSessions);
    expect(profile.serverErrorCode).toBe(generation.serverErrorCode);
    if (generation.transport === 'websocket') {
      expect(profile.presenceRequiresImStatus).toBe(
        generation.presenceParams.includes('im_status_ids_by_model'),
      );
      expect(profile.hasOnClosed ? generation.routes.includes('/websocket/on_closed') : true).toBe(
        true,
      );
    }
  });
});
