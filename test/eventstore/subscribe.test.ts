// Catch-up subscriptions: history, then `caughtUp`, then live events; server-side filters with
// checkpoints; a subscriber that stops reading holds nobody else up.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventStoreDBClient,
  END,
  START,
  eventTypeFilter,
  jsonEvent,
  streamNameFilter,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { startTestStore, type TestStore } from '../helpers/store.ts';

let store: TestStore;
beforeAll(async () => {
  store = await startTestStore();
});
afterAll(() => store.stop());

const numbered = (n: number, type = 'Numbered') => jsonEvent({ type, data: { n } });

/** Resolves with the first `count` events, and records when `caughtUp` came relative to them. */
function take(subscription: NodeJS.EventEmitter & AsyncIterable<ResolvedEvent>, count: number) {
  const log: Array<number | 'caughtUp'> = [];
  subscription.on('caughtUp', () => log.push('caughtUp'));
  const events = new Promise<ResolvedEvent[]>((resolve, reject) => {
    const seen: ResolvedEvent[] = [];
    subscription.on('error', reject);
    subscription.on('data', (resolved: ResolvedEvent) => {
      seen.push(resolved);
      log.push((resolved.event!.data as { n: number }).n);
      if (seen.length === count) resolve(seen);
    });
  });
  return { events, log };
}

const waitFor = (emitter: NodeJS.EventEmitter, event: string) =>
  new Promise<void>((resolve) => emitter.once(event, () => resolve()));

describe('subscribing to a stream', () => {
  it('sends the history, then caughtUp, then events appended later', async () => {
    const stream = `sub-${randomUUID()}`;
    await store.client.appendToStream(stream, [numbered(0), numbered(1)]);
    const subscription = store.client.subscribeToStream(stream, { fromRevision: START });
    const { events, log } = take(subscription, 4);
    await waitFor(subscription, 'caughtUp');
    await store.client.appendToStream(stream, [numbered(2), numbered(3)]);
    await events;
    await subscription.unsubscribe();
    expect(log).toEqual([0, 1, 'caughtUp', 2, 3]);
  });

  it('starts after a given revision, or at the end', async () => {
    const stream = `sub-${randomUUID()}`;
    await store.client.appendToStream(stream, [numbered(0), numbered(1), numbered(2)]);
    const afterOne = store.client.subscribeToStream(stream, { fromRevision: 1n });
    const fromEnd = store.client.subscribeToStream(stream, { fromRevision: END });
    const fromRevision = take(afterOne, 2);
    const live = take(fromEnd, 1);
    await Promise.all([waitFor(afterOne, 'caughtUp'), waitFor(fromEnd, 'caughtUp')]);
    await store.client.appendToStream(stream, numbered(3));
    await Promise.all([fromRevision.events, live.events]);
    await Promise.all([afterOne.unsubscribe(), fromEnd.unsubscribe()]);
    expect(fromRevision.log).toEqual([2, 'caughtUp', 3]);
    expect(live.log).toEqual(['caughtUp', 3]);
  });

  it('waits for a stream that does not exist yet', async () => {
    const stream = `later-${randomUUID()}`;
    const subscription = store.client.subscribeToStream(stream);
    const { events } = take(subscription, 1);
    await waitFor(subscription, 'caughtUp');
    await store.client.appendToStream(stream, numbered(7));
    expect(numberedOf(await events)).toEqual([7]);
    await subscription.unsubscribe();
  });
});

const numberedOf = (events: ResolvedEvent[]): number[] =>
  events.map((resolved) => (resolved.event!.data as { n: number }).n);

describe('subscribing to $all', () => {
  it('filters by stream-name prefix on the node and sends checkpoints as it scans', async () => {
    const tag = randomUUID().slice(0, 8);
    const checkpoints: Position[] = [];
    const subscription = store.client.subscribeToAll({
      fromPosition: START,
      filter: streamNameFilter({
        prefixes: [`wanted-${tag}`],
        checkpointInterval: 1,
        checkpointReached: (_subscription, position) => {
          checkpoints.push(position);
        },
      }),
    });
    const { events } = take(subscription, 3);
    await waitFor(subscription, 'caughtUp');
    const checkpointsBefore = checkpoints.length;
    await store.client.appendToStream(`wanted-${tag}`, numbered(0));
    await store.client.appendToStream(
      `other-${tag}`,
      Array.from({ length: 100 }, (_, n) => numbered(n)),
    );
    await store.client.appendToStream(`wanted-${tag}-b`, [numbered(1), numbered(2)]);
    const received = await events;
    await subscription.unsubscribe();
    expect(received.map((resolved) => resolved.event!.streamId)).toEqual([
      `wanted-${tag}`,
      `wanted-${tag}-b`,
      `wanted-${tag}-b`,
    ]);
    // 100 filtered-out events at one checkpoint per 32 scanned events: at least three checkpoints.
    const live = checkpoints.slice(checkpointsBefore);
    expect(live.length).toBeGreaterThanOrEqual(3);
    expect(live.every((position, index) => index === 0 || position.commit > live[index - 1]!.commit)).toBe(
      true,
    );
  });

  it('filters by event type with a regular expression', async () => {
    const tag = `T${randomUUID().replace(/-/g, '')}`;
    const subscription = store.client.subscribeToAll({
      fromPosition: END,
      filter: eventTypeFilter({ regex: `^${tag}(Opened|Closed)$` }),
    });
    const { events } = take(subscription, 2);
    await waitFor(subscription, 'caughtUp');
    await store.client.appendToStream(`typed-${tag}`, [
      numbered(0, `${tag}Opened`),
      numbered(1, `${tag}Touched`),
      numbered(2, `${tag}Closed`),
    ]);
    expect(numberedOf(await events)).toEqual([0, 2]);
    await subscription.unsubscribe();
  });

  it('keeps delivering to a live subscriber while another one has stopped reading', async () => {
    const stream = `stall-${randomUUID()}`;
    const stalledClient = EventStoreDBClient.connectionString(store.connectionString);
    const stalled = stalledClient.subscribeToAll({
      fromPosition: END,
      filter: streamNameFilter({ prefixes: [stream] }),
    });
    stalled.pause();
    const live = store.client.subscribeToStream(stream, { fromRevision: END });
    const total = 300;
    const { events } = take(live, total);
    await Promise.all([waitFor(live, 'caughtUp'), waitFor(stalled, 'confirmation')]);
    // ~6 MB: far more than the stalled subscriber's HTTP/2 window and buffers can hold.
    const payload = 'p'.repeat(20_000);
    for (let batch = 0; batch < total / 30; batch += 1) {
      await store.client.appendToStream(
        stream,
        Array.from({ length: 30 }, (_, n) =>
          jsonEvent({ type: 'Numbered', data: { n: batch * 30 + n, payload } }),
        ),
      );
    }
    expect(numberedOf(await events)).toEqual(Array.from({ length: total }, (_, n) => n));
    await live.unsubscribe();

    // The stalled subscriber lost nothing: once it reads again, it gets every event in order.
    const resumed = new Promise<number[]>((resolve) => {
      const seen: number[] = [];
      stalled.on('data', (resolved: ResolvedEvent) => {
        seen.push((resolved.event!.data as { n: number }).n);
        if (seen.length === total) resolve(seen);
      });
    });
    stalled.resume();
    expect(await resumed).toEqual(Array.from({ length: total }, (_, n) => n));
    await stalled.unsubscribe();
    await stalledClient.dispose();
  });
});
