import { describe, expect, it } from 'vitest';
import { crashScenario } from './crashScenario.ts';

// `recent`: the node recognises replayed appends as EventStoreDB does (recent event ids only), so the
// feed's replays after each kill must be kept out by pricealert itself.
describe.each(['full', 'recent'] as const)('alert reactor under kill -9 (idempotency %s)', (idempotency) => {
  it('given a reactor killed at random points while trades arrive, when a new one takes over, then every change is written exactly once', async () => {
    const { written, expected } = await crashScenario(3, 42, { idempotency });
    expect(Object.fromEntries(written)).toEqual(Object.fromEntries(expected));
    expect([...expected.values()].flat().length).toBeGreaterThan(30);
  }, 120_000);
});
