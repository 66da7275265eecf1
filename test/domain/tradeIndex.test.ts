import { describe, expect, it } from 'vitest';
import { createTradeIndex, isTradeIndexSnapshot } from '../../src/domain/tradeIndex.ts';

const random = (seed: number) => () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

describe('the trade index', () => {
  it('given consecutive integer ids in any order, then it holds them as few runs and finds each', () => {
    const index = createTradeIndex();
    // In order, then newest first (a REST import), then around a gap that is filled last.
    for (let id = 100; id < 200; id += 1) index.add('coinbase', String(id), id - 100);
    for (let id = 299; id >= 250; id -= 1) index.add('coinbase', String(id), 400 - id);
    for (let id = 200; id < 250; id += 1) index.add('coinbase', String(id), 1000 + id);
    expect(index.size()).toBe(200);
    expect(index.entries()).toBe(1);
    expect(index.has('coinbase', '150')).toBe(true);
    expect(index.has('coinbase', '300')).toBe(false);
    expect(index.has('kraken', '150')).toBe(false);
    expect(index.add('coinbase', '150', 5000)).toBe(false);
    expect(index.size()).toBe(200);
  });

  it('given any ids, then has() agrees with a plain set, and locate() brackets the revision', () => {
    const next = random(3);
    const index = createTradeIndex();
    const truth = new Map<string, number>();
    for (let revision = 0; revision < 3000; revision += 1) {
      const source = next() < 0.8 ? 'coinbase' : 'api';
      const roll = next();
      const id =
        roll < 0.7
          ? String(Math.floor(next() * 2000))
          : roll < 0.85
            ? `0${Math.floor(next() * 50)}`
            : `u-${Math.floor(next() * 500)}`;
      const key = `${source}:${id}`;
      expect(index.add(source, id, revision)).toBe(!truth.has(key));
      if (!truth.has(key)) truth.set(key, revision);
    }
    expect(index.size()).toBe(truth.size);
    for (const [key, revision] of truth) {
      const [source, id] = key.split(':') as [string, string];
      expect(index.has(source, id)).toBe(true);
      const where = index.locate(source, id)!;
      expect(where.from <= revision && revision <= where.to).toBe(true);
    }
    for (let probe = 0; probe < 500; probe += 1) {
      const id = String(2000 + probe);
      expect(index.has('coinbase', id)).toBe(false);
      expect(index.locate('coinbase', id)).toBeUndefined();
    }
  });

  it('given trades written in order, either way, then locate() guesses the exact revision', () => {
    const index = createTradeIndex();
    for (let id = 1; id <= 1000; id += 1) index.add('coinbase', String(id), 41 + id);
    expect(index.locate('coinbase', '500')).toEqual({ guesses: [541, 542], from: 42, to: 1041 });
    // Newest first, as Coinbase's REST API pages them: the second guess.
    for (let id = 3000; id > 2000; id -= 1) index.add('coinbase', String(id), 5000 + (3000 - id));
    expect(index.locate('coinbase', '2900')!.guesses).toContain(5100);
  });

  it('given a snapshot, then a new index built from it knows the same trades, and odd data is refused', () => {
    const index = createTradeIndex();
    for (let id = 1; id <= 100; id += 2) index.add('coinbase', String(id), id);
    index.add('api', 'abc', 7);
    const snapshot = JSON.parse(JSON.stringify(index.snapshot())) as unknown;
    expect(isTradeIndexSnapshot(snapshot)).toBe(true);
    const restored = createTradeIndex(snapshot as Parameters<typeof createTradeIndex>[0]);
    expect(restored.size()).toBe(index.size());
    expect(restored.has('coinbase', '51')).toBe(true);
    expect(restored.has('coinbase', '52')).toBe(false);
    expect(restored.locate('api', 'abc')).toEqual({ guesses: [7], from: 7, to: 7 });
    for (const odd of [
      null,
      { sources: { a: { runs: [1, 2, 3], others: {} } } },
      { sources: { a: { runs: [5, 4, 0, 0], others: {} } } },
      { sources: { a: { runs: [1, 5, 0, 4, 6, 7, 5, 6], others: {} } } },
      { sources: { a: { runs: [], others: { '12': 3 } } } },
    ])
      expect(isTradeIndexSnapshot(odd)).toBe(false);
  });
});
