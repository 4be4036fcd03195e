import { describe, expect, it } from 'vitest';
import { Registry } from '../../../src/hub/registry.js';

describe('Registry', () => {
  it('indexes both directions and replaces a subscription as a whole', () => {
    const r = new Registry<string>();
    r.replace('s1', ['a', 'b']);
    r.replace('s2', ['b']);
    expect([...(r.subscribersOf('b') ?? [])]).toEqual(['s1', 's2']);
    r.replace('s1', ['b', 'c']);
    expect(r.subscribersOf('a')).toBeUndefined();
    expect([...r.channelsOf('s1')].sort()).toEqual(['b', 'c']);
    expect(r.channelCount).toBe(2);
  });

  it('deletes emptied channels at once when a subscriber leaves', () => {
    const r = new Registry<string>();
    r.replace('s1', ['a']);
    r.replace('s2', ['a', 'x']);
    r.remove('s2');
    expect(r.subscribersOf('x')).toBeUndefined();
    expect([...(r.subscribersOf('a') ?? [])]).toEqual(['s1']);
    r.replace('s1', []);
    expect(r.channelCount).toBe(0);
    expect(r.subscriberCount).toBe(0);
  });
});
