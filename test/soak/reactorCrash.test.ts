// SOAK=1 npm run test:soak — many kill -9 rounds with different seeds.
import { describe, expect, it } from 'vitest';
import { crashScenario } from '../runtime/crashScenario.ts';

const RUNS = Number(process.env.SOAK_RUNS ?? 10);

describe.runIf(process.env.SOAK === '1')('alert reactor under repeated kill -9 (soak)', () => {
  for (let run = 0; run < RUNS; run += 1) {
    it(`run ${run}: 8 kills, every change exactly once`, async () => {
      const { written, expected } = await crashScenario(8, 1000 + run);
      expect(Object.fromEntries(written)).toEqual(Object.fromEntries(expected));
    }, 300_000);
  }
});
