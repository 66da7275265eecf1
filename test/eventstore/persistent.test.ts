// Persistent subscriptions on the embedded node, through the unmodified client: managing groups,
// competing consumers, pinning, nack/park/replay and retries, filters on $all.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  PINNED,
  ROUND_ROBIN,
  START,
  eventTypeFilter,
  streamNameFilter,
  jsonEvent,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  type EventStoreDBClient,
  type PersistentSubscriptionToStream,
  type PersistentSubscriptionToStreamResolvedEvent,
} from '@eventstore/db-client';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(): Promise<TestStore> {
  const store = await startTestStore();
  cleanups.push(() => store.stop());
  return store;
}

/** One node for the tests that use their own streams and groups: starting a node costs seconds. */
let sharedStore: Promise<TestStore> | undefined;
const shared = (): Promise<TestStore> => (sharedStore ??= startTestStore());
afterAll(async () => (await sharedStore)?.stop());

const tick = (n: number) => jsonEvent({ type: 'Tick', data: { n } });

async function appendTicks(client: EventStoreDBClient, stream: string, from: number, count: number) {
  await client.appendToStream(
    stream,
    Array.from({ length: count }, (_, index) => tick(from + index)),
  );
}

type Received = PersistentSubscriptionToStreamResolvedEvent;
const numberOf = (resolved: Received): number => (resolved.event!.data as { n: number }).n;

/** Collects events from a subscription, handing each to `handle` (which acks by default). */
function consume(
  subscription: PersistentSubscriptionToStream,
  handle: (resolved: Received) => Promise<void> = (resolved) => subscription.ack(resolved),
): Received[] {
  const received: Received[] = [];
  subscription.on('data', (resolved: Received) => {
    received.push(resolved);
    void handle(resolved);
  });
  subscription.on('error', () => undefined);
  cleanups.push(() => subscription.unsubscribe());
  return received;
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const fromStart = (
  overrides: Parameters<typeof persistentSubscriptionToStreamSettingsFromDefaults>[0] = {},
) => persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START, ...overrides });

describe('managing groups', () => {
  it('creates, lists, describes, updates and deletes groups on a stream and on $all', async () => {
    const { client } = await started();
    await client.createPersistentSubscriptionToStream('orders', 'billing', fromStart());
    await client.createPersistentSubscriptionToAll(
      'audit',
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START }),
      { filter: eventTypeFilter({ prefixes: ['Order'] }) },
    );
    await expect(
      client.createPersistentSubscriptionToStream('orders', 'billing', fromStart()),
    ).rejects.toMatchObject({ type: 'persistent-subscription-exists' });

    const all = await client.listAllPersistentSubscriptions();
    expect(all.map((info) => `${info.eventSource}/${info.groupName}`).sort()).toEqual([
      '$all/audit',
      'orders/billing',
    ]);
    expect((await client.listPersistentSubscriptionsToAll()).map((info) => info.groupName)).toEqual([
      'audit',
    ]);

    await client.updatePersistentSubscriptionToStream(
      'orders',
      'billing',
      fromStart({ maxRetryCount: 3, consumerStrategyName: PINNED }),
    );
    const info = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing');
    expect(info.settings).toMatchObject({ maxRetryCount: 3, consumerStrategyName: PINNED, startFrom: START });
    const allInfo = await client.getPersistentSubscriptionToAllInfo('audit');
    expect(allInfo.settings.startFrom).toBe(START);

    await client.deletePersistentSubscriptionToStream('orders', 'billing');
    await client.deletePersistentSubscriptionToAll('audit');
    expect(await client.listAllPersistentSubscriptions()).toEqual([]);
    await expect(client.getPersistentSubscriptionToStreamInfo('orders', 'billing')).rejects.toMatchObject({
      type: 'persistent-subscription-does-not-exist',
    });
    await expect(client.deletePersistentSubscriptionToAll('audit')).rejects.toMatchObject({
      type: 'persistent-subscription-does-not-exist',
    });
  });

  it('refuses bad settings and a subscriber beyond maxSubscriberCount', async () => {
    const { client } = await shared();
    await expect(
      client.createPersistentSubscriptionToStream(
        's',
        'g',
        fromStart({ checkPointLowerBound: 50, checkPointUpperBound: 5 }),
      ),
    ).rejects.toThrow(/checkpoint count/);
    await client.createPersistentSubscriptionToStream('s', 'g', fromStart({ maxSubscriberCount: 1 }));
    consume(client.subscribeToPersistentSubscriptionToStream('s', 'g'));
    await until(
      async () => (await client.getPersistentSubscriptionToStreamInfo('s', 'g')).connections.length === 1,
      'first consumer',
    );
    const second = client.subscribeToPersistentSubscriptionToStream('s', 'g');
    cleanups.push(() => second.unsubscribe());
    const error = await new Promise<unknown>((resolve) => second.once('error', resolve));
    expect(error).toMatchObject({ type: 'maximum-subscribers-reached' });
  });
});

describe('competing consumers', () => {
  it('shares the work on RoundRobin, and redelivers what a dead consumer held to another', async () => {
    const { client } = await shared();
    await appendTicks(client, 'work', 0, 40);
    await client.createPersistentSubscriptionToStream(
      'work',
      'workers',
      fromStart({ consumerStrategyName: ROUND_ROBIN, messageTimeout: 60_000 }),
    );
    // The first consumer takes its share and dies without acking any of it.
    const dying = client.subscribeToPersistentSubscriptionToStream('work', 'workers', { bufferSize: 5 });
    const held = consume(dying, async () => undefined);
    const a = consume(client.subscribeToPersistentSubscriptionToStream('work', 'workers', { bufferSize: 5 }));
    const b = consume(client.subscribeToPersistentSubscriptionToStream('work', 'workers', { bufferSize: 5 }));
    await until(() => held.length === 5, 'the dying consumer to fill up');
    await dying.unsubscribe();

    const done = () => new Set([...a, ...b].map(numberOf));
    await until(() => done().size === 40, 'every event acked by the live consumers');
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    const redelivered = [...a, ...b].filter((resolved) =>
      held.some((h) => numberOf(h) === numberOf(resolved)),
    );
    expect(redelivered.every((resolved) => resolved.retryCount >= 1)).toBe(true);
    expect(redelivered.length).toBe(5);
  });

  it('redelivers after messageTimeout when a consumer holds an event without acking', async () => {
    const { client } = await shared();
    await appendTicks(client, 'slow', 0, 1);
    await client.createPersistentSubscriptionToStream('slow', 'g', fromStart({ messageTimeout: 300 }));
    const slow = client.subscribeToPersistentSubscriptionToStream('slow', 'g');
    const received = consume(slow, async (resolved) => {
      if (resolved.retryCount > 0) await slow.ack(resolved);
    });
    await until(() => received.length >= 2, 'the redelivery');
    expect(received.map((resolved) => resolved.retryCount).slice(0, 2)).toEqual([0, 1]);
  });

  it('keeps each stream on one consumer when Pinned', async () => {
    const { client } = await shared();
    await client.createPersistentSubscriptionToAll(
      'pinned',
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START, consumerStrategyName: PINNED }),
      { filter: streamNameFilter({ prefixes: ['pin-'] }) },
    );
    const consumers = Array.from({ length: 3 }, () => {
      const subscription = client.subscribeToPersistentSubscriptionToAll('pinned');
      return consume(subscription as never, (resolved) => subscription.ack(resolved));
    });
    // Pinning holds while the consumers stay the same: all three are in before the events come.
    await until(
      async () => (await client.getPersistentSubscriptionToAllInfo('pinned')).connections.length === 3,
      'three consumers',
    );
    for (let stream = 0; stream < 6; stream += 1)
      await appendTicks(client, `pin-${stream}`, stream * 100, 10);
    await until(() => consumers.flat().length === 60, 'all 60 events');
    const owners = new Map<string, number>();
    consumers.forEach((received, consumer) => {
      for (const resolved of received) {
        const stream = resolved.event!.streamId;
        expect(owners.get(stream) ?? consumer).toBe(consumer);
        owners.set(stream, consumer);
      }
    });
    expect(owners.size).toBe(6);
  });
});

describe('nack, parking and replay', () => {
  it('parks a nacked event in the parked stream and delivers it again on replay', async () => {
    const { client } = await shared();
    await appendTicks(client, 'jobs', 0, 3);
    await client.createPersistentSubscriptionToStream('jobs', 'g', fromStart());
    let replayed = false;
    const subscription = client.subscribeToPersistentSubscriptionToStream('jobs', 'g');
    const received = consume(subscription, (resolved) =>
      numberOf(resolved) === 1 && !replayed
        ? subscription.nack('park', 'poison', resolved)
        : subscription.ack(resolved),
    );
    await until(() => received.length === 3, 'three events');
    await until(
      async () =>
        (await client.getPersistentSubscriptionToStreamInfo('jobs', 'g')).stats.parkedMessageCount === 1n,
      'one parked message',
    );
    const parked: number[] = [];
    for await (const resolved of client.readStream('$persistentsubscription-jobs::g-parked'))
      parked.push(resolved.event!.type === '$>' ? 1 : 0);
    expect(parked).toEqual([1]);

    replayed = true;
    await client.replayParkedMessagesToStream('jobs', 'g');
    await until(() => received.length === 4, 'the replayed event');
    expect(numberOf(received[3]!)).toBe(1);
    await until(
      async () =>
        (await client.getPersistentSubscriptionToStreamInfo('jobs', 'g')).stats.parkedMessageCount === 0n,
      'the parked stream to be emptied',
    );
  });

  it('retries a nacked event up to maxRetryCount, then parks it', async () => {
    const { client } = await shared();
    await appendTicks(client, 'flaky', 0, 1);
    await client.createPersistentSubscriptionToStream('flaky', 'g', fromStart({ maxRetryCount: 2 }));
    const subscription = client.subscribeToPersistentSubscriptionToStream('flaky', 'g');
    const received = consume(subscription, (resolved) => subscription.nack('retry', 'not yet', resolved));
    await until(
      async () =>
        (await client.getPersistentSubscriptionToStreamInfo('flaky', 'g')).stats.parkedMessageCount === 1n,
      'the event to be parked',
    );
    expect(received.map((resolved) => resolved.retryCount)).toEqual([0, 1, 2]);
  });

  it('skips a nacked event without parking it', async () => {
    const { client } = await shared();
    await appendTicks(client, 'skippy', 0, 2);
    await client.createPersistentSubscriptionToStream('skippy', 'g', fromStart());
    const subscription = client.subscribeToPersistentSubscriptionToStream('skippy', 'g');
    const received = consume(subscription, (resolved) => subscription.nack('skip', 'unwanted', resolved));
    await until(() => received.length === 2, 'both events');
    const info = await client.getPersistentSubscriptionToStreamInfo('skippy', 'g');
    expect(info.stats.parkedMessageCount).toBe(0n);
    expect(info.stats.totalInFlightMessages).toBe(0);
  });
});

describe('$all with filters', () => {
  it('delivers only the events whose type or stream matches, and a group per filter', async () => {
    const { client } = await shared();
    await client.createPersistentSubscriptionToAll(
      'by-type',
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START }),
      { filter: eventTypeFilter({ prefixes: ['Price'] }) },
    );
    await client.createPersistentSubscriptionToAll(
      'by-stream',
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START }),
      { filter: streamNameFilter({ regex: '^alerts-' }) },
    );
    await client.appendToStream('prices-1', [
      jsonEvent({ type: 'PriceTicked', data: {} }),
      jsonEvent({ type: 'Noise', data: {} }),
    ]);
    await client.appendToStream('alerts-1', [jsonEvent({ type: 'AlertCreated', data: {} })]);
    await client.appendToStream('other', [jsonEvent({ type: 'PriceTicked', data: {} })]);

    const byType = client.subscribeToPersistentSubscriptionToAll('by-type');
    const types = consume(byType as never, (resolved) => byType.ack(resolved));
    const byStream = client.subscribeToPersistentSubscriptionToAll('by-stream');
    const streams = consume(byStream as never, (resolved) => byStream.ack(resolved));
    await until(() => types.length === 2 && streams.length === 1, 'the matching events');
    expect(types.map((resolved) => resolved.event!.streamId).sort()).toEqual(['other', 'prices-1']);
    expect(streams.map((resolved) => resolved.event!.type)).toEqual(['AlertCreated']);
    await expect(client.getPersistentSubscriptionToAllInfo('nope')).rejects.toMatchObject({
      type: 'persistent-subscription-does-not-exist',
    });
  });
});
