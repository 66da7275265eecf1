import { describe, expect, it } from 'vitest';
import { crashScenario } from './crashScenario.ts';

describe('alert reactor under kill -9', () => {
  it('given a reactor killed at random points while trades arrive, when a new one takes over, then every change is written exactly once', async () => {
    const { written, expected } = await crashScenario(3, 42);
    expect(Object.fromEntries(written)).toEqual(Object.fromEntries(expected));
    expect([...expected.values()].flat().length).toBeGreaterThan(30);
  }, 120_000);
});
