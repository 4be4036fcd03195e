import { describe, expect, it } from 'vitest';
import { presenceParams } from '../../../src/transports/websocket/odooSocket.js';

describe('presenceParams: update_presence → /websocket/update_bus_presence', () => {
  const legacy = { inactivity_period: 12, im_status_ids_by_model: { 'res.partner': [3] } };

  it('19: inactivity_period only, even when a client adds more', () => {
    expect(presenceParams({ inactivity_period: 12 }, 19)).toEqual({ inactivity_period: 12 });
    expect(presenceParams(legacy, 19)).toEqual({ inactivity_period: 12 });
  });

  it('16-18: im_status_ids_by_model is required, {} when the client sent none', () => {
    for (const major of [16, 17, 18]) {
      expect(presenceParams(legacy, major)).toEqual(legacy);
      expect(presenceParams({ inactivity_period: 1 }, major)).toEqual({
        inactivity_period: 1,
        im_status_ids_by_model: {},
      });
    }
  });

  it("generation unknown: the client's message tells it", () => {
    expect(presenceParams({ inactivity_period: 3 }, undefined)).toEqual({ inactivity_period: 3 });
    expect(presenceParams(legacy, undefined)).toEqual(legacy);
    expect(presenceParams({ inactivity_period: 4, im_status_ids_by_model: {} }, undefined)).toEqual(
      { inactivity_period: 4, im_status_ids_by_model: {} },
    );
  });
});
