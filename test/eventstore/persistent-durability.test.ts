// A persistent subscription group across a SIGKILL of the node: its definition and checkpoint survive,
// nothing acked before the checkpoint comes back, and nothing left un-acked is lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  ROUND_ROBIN,
  START,
  jsonEvent,
  persistentSubscriptionToStreamSettingsFromDefaults,
  type PersistentSubscriptionToStreamResolvedEvent,
} from '@eventstore/db-client';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const numberOf = (resolved: PersistentSubscriptionToStreamResolvedEvent): number =>
  (resolved.event!.data as { n: number }).n;

it('keeps the group and its checkpoint when the node is killed with SIGKILL', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-psub-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const first: TestStore = await startTestStore({ dataDir });
  cleanups.push(() => first.stop());
  const settings = persistentSubscriptionToStreamSettingsFromDefaults({
    startFrom: START,
    consumerStrategyName: ROUND_ROBIN,
    checkPointAfter: 100,
    checkPointLowerBound: 1,
    checkPointUpperBound: 1000,
  });
  await first.client.createPersistentSubscriptionToStream('ledger', 'posting', settings);
  await first.client.appendToStream(
    'ledger',
    Array.from({ length: 50 }, (_, n) => jsonEvent({ type: 'Posted', data: { n } })),
  );
  // Events 0–29 are acked; 30 onwards are received and held, as by a consumer that is mid-work.
  const subscription = first.client.subscribeToPersistentSubscriptionToStream('ledger', 'posting');
  subscription.on('error', () => undefined);
  subscription.on('data', (resolved: PersistentSubscriptionToStreamResolvedEvent) => {
    if (numberOf(resolved) < 30) void subscription.ack(resolved);
  });
  await until(
    async () =>
      (await first.client.getPersistentSubscriptionToStreamInfo('ledger', 'posting')).stats
        .lastCheckpointedEventRevision === 29n,
    'the checkpoint after the acked events',
  );
  process.kill(first.node.pid, 'SIGKILL');
  await first.client.dispose();

  const second = await startTestStore({ dataDir });
  cleanups.push(() => second.stop());
  const info = await second.client.getPersistentSubscriptionToStreamInfo('ledger', 'posting');
  expect(info.settings).toMatchObject({ consumerStrategyName: ROUND_ROBIN, checkPointAfter: 100 });
  expect(info.stats.lastCheckpointedEventRevision).toBe(29n);

  const again = second.client.subscribeToPersistentSubscriptionToStream('ledger', 'posting');
  cleanups.push(() => again.unsubscribe());
  again.on('error', () => undefined);
  const redelivered: number[] = [];
  again.on('data', (resolved: PersistentSubscriptionToStreamResolvedEvent) => {
    redelivered.push(numberOf(resolved));
    void again.ack(resolved);
  });
  await until(() => redelivered.length >= 20, 'the un-acked events');
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(redelivered).toEqual(Array.from({ length: 20 }, (_, index) => 30 + index));
});
