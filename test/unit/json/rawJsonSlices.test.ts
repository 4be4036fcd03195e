import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type JsonNode,
  JsonSyntaxError,
  member,
  parseJson,
  parseJsonInSlices,
} from '../../../src/json/rawJson.js';

/** The JavaScript value of a node (numbers through `Number`), to compare trees by value. */
function plainValue(node: JsonNode, text: string): unknown {
  switch (node.kind) {
    case 'object':
      return Object.fromEntries(node.entries.map(([k, v]) => [k, plainValue(v, text)]));
    case 'array':
      return node.items.map((item) => plainValue(item, text));
    case 'number':
      return Number(text.slice(node.start, node.end));
    default:
      return node.value;
  }
}

/** The values of a tree that a prefix parse read whole (not in `cut`), as paths to their text. */
function wholeValues(
  node: JsonNode,
  text: string,
  cut: ReadonlySet<JsonNode>,
  path = '$',
  out = new Map<string, string>(),
): Map<string, string> {
  if (!cut.has(node)) out.set(path, text.slice(node.start, node.end));
  if (node.kind === 'object')
    node.entries.forEach(([k, v], i) => {
      wholeValues(v, text, cut, `${path}.${i}:${k}`, out);
    });
  if (node.kind === 'array')
    node.items.forEach((v, i) => {
      wholeValues(v, text, cut, `${path}[${i}]`, out);
    });
  return out;
}

describe('parseJsonInSlices', () => {
  it('gives the same tree as parseJson, whatever the slice size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.json({ maxDepth: 6 }),
        fc.integer({ min: 1, max: 64 }),
        async (text, sliceChars) => {
          const whole = parseJson(text);
          const sliced = await parseJsonInSlices(text, { sliceChars });
          expect(sliced.root).toEqual(whole);
          expect(sliced.cut).toBeUndefined();
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses what parseJson refuses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), async (text) => {
        let refused = false;
        try {
          parseJson(text);
        } catch {
          refused = true;
        }
        const sliced = await parseJsonInSlices(text, { sliceChars: 3 }).then(
          () => false,
          (error: unknown) => {
            expect(error).toBeInstanceOf(JsonSyntaxError);
            return true;
          },
        );
        expect(sliced).toBe(refused);
      }),
      { numRuns: 1000 },
    );
  });

  it('lets other work run between slices', async () => {
    const text = `[${Array.from({ length: 2000 }, (_, i) => `{"id": ${i}}`).join(', ')}]`;
    let immediates = 0;
    const count = () => {
      immediates++;
      if (immediates < 10_000) setImmediate(count);
    };
    setImmediate(count);
    const parsed = await parseJsonInSlices(text, { sliceChars: 512 });
    expect((parsed.root as Extract<JsonNode, { kind: 'array' }>).items).toHaveLength(2000);
    // Every slice gave way to callbacks queued meanwhile (~text.length / 512 slices).
    expect(immediates).toBeGreaterThan(text.length / 512 / 2);
  });

  it('reads a text cut anywhere: the values read whole are exactly those of the whole text', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.json({ maxDepth: 5 }).filter((t) => /^[[{]/.test(t)),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (text, fraction) => {
          const at = Math.max(1, Math.floor(text.length * fraction));
          const prefix = text.slice(0, at);
          const whole = parseJson(text);
          const { root, cut } = await parseJsonInSlices(prefix, { prefix: true, sliceChars: 7 });
          expect(cut).toBeDefined();
          const fromWhole = wholeValues(whole, text, new Set());
          for (const [path, value] of wholeValues(root, prefix, cut as ReadonlySet<JsonNode>)) {
            // Same place in the tree, same text, and complete by itself.
            expect(fromWhole.get(path)).toBe(value);
            expect(() => JSON.parse(value)).not.toThrow();
          }
          if (at === text.length) expect(cut?.size).toBe(0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps every notification read whole from a catch-up cut short, in order', async () => {
    const items = Array.from(
      { length: 50 },
      (_, i) => `{"id": ${i + 1}, "message": {"type": "t", "payload": {"n": ${i}, "s": "é\\"x"}}}`,
    );
    const text = `{"jsonrpc": "2.0", "id": 1, "result": {"channels": [["db", "broadcast"]], "notifications": [${items.join(', ')}]}}`;
    for (const at of [text.indexOf('"notifications"') + 20, text.length - 5, text.length - 200]) {
      const { root, cut } = await parseJsonInSlices(text.slice(0, at), { prefix: true });
      const result = member(root, 'result');
      const channels = member(result, 'channels');
      const notifications = member(result, 'notifications');
      expect(cut?.has(channels as JsonNode)).toBe(false);
      expect(cut?.has(notifications as JsonNode)).toBe(true);
      const whole = (notifications as Extract<JsonNode, { kind: 'array' }>).items.filter(
        (item) => !cut?.has(item),
      );
      expect(whole.map((item) => plainValue(item, text))).toEqual(
        items.slice(0, whole.length).map((item) => JSON.parse(item)),
      );
      expect(text.slice(0, at).length - (whole.at(-1)?.end ?? 0)).toBeLessThan(120);
    }
  });

  it('refuses hostile nesting, in slices too', async () => {
    await expect(parseJsonInSlices('['.repeat(100_000), { sliceChars: 100 })).rejects.toThrow(
      JsonSyntaxError,
    );
  });
});
