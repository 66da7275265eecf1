// The store port (src/eventstore/store.ts, errors.ts) against a real node: plain events back, the
// client's failures as pricealert's errors, and calls left early that still let the client dispose.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreConflict, StoreStreamDeleted, StoreUnavailable } from '../../src/eventstore/errors.ts';
import {
  ANY,
  appendToStream,
  BACKWARDS,
  connectClient,
  END,
  lastEvent,
  NO_STREAM,
  readAll,
  readStream,
  readStreamMetadata,
  START,
  subscribeToAll,
  writeStreamMetadata,
  type StoredEvent,
} from '../../src/eventstore/store.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

let store: TestStore;
beforeAll(async () => {
  store = await startTestStore();
});
afterAll(() => store.stop());

const fresh = (prefix: string): string => `${prefix}-${randomUUID()}`;

async function collect(events: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe('appendToStream', () => {
  it('answers the next expected revision and position, and refuses a wrong one with StoreConflict', async () => {
    const stream = fresh('append');
    const first = await appendToStream(store.client, stream, [
      { type: 'A', data: { n: 0 }, metadata: { why: 'test' } },
      { type: 'B', data: { n: 1 } },
    ]);
    expect(first.revision).toBe(1n);
    expect(first.position!.commit).toBeGreaterThan(0n);
    const second = await appendToStream(
      store.client,
      stream,
      { type: 'C', data: {} },
      { expectedRevision: 1n },
    );
    expect(second.revision).toBe(2n);

    const stale = await appendToStream(
      store.client,
      stream,
      { type: 'D', data: {} },
      { expectedRevision: 1n },
    ).catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(StoreConflict);
    expect(stale).toMatchObject({ code: 'conflict', stream, expected: 1n, actual: 2n });
    const taken = await appendToStream(
      store.client,
      stream,
      { type: 'D', data: {} },
      { expectedRevision: NO_STREAM },
    ).catch((error: unknown) => error);
    expect(taken).toMatchObject({ stream, expected: NO_STREAM, actual: 2n });
    const missing = fresh('missing');
    const none = await appendToStream(
      store.client,
      missing,
      { type: 'D', data: {} },
      { expectedRevision: 0n },
    ).catch((error: unknown) => error);
    expect(none).toMatchObject({ stream: missing, expected: 0n, actual: 'no_stream' });

    const events = await collect(readStream(store.client, stream));
    expect(events.map((event) => [event.type, event.revision, event.data, event.isJson])).toEqual([
      ['A', 0n, { n: 0 }, true],
      ['B', 1n, { n: 1 }, true],
      ['C', 2n, {}, true],
    ]);
    expect(events[0]!.metadata).toEqual({ why: 'test' });
    expect(events[0]!.streamId).toBe(stream);
    expect(events[0]!.created).toBeInstanceOf(Date);
  });

  it('keeps the id it is given, and refuses a tombstoned stream with StoreStreamDeleted', async () => {
    const stream = fresh('tomb');
    const id = randomUUID();
    await appendToStream(store.client, stream, { id, type: 'A', data: {} }, { expectedRevision: ANY });
    expect((await lastEvent(store.client, stream))?.id).toBe(id);
    await store.client.tombstoneStream(stream);
    await expect(appendToStream(store.client, stream, { type: 'B', data: {} })).rejects.toMatchObject({
      code: 'stream-deleted',
      stream,
    });
    await expect(collect(readStream(store.client, stream))).rejects.toBeInstanceOf(StoreStreamDeleted);
  });
});

describe('reads', () => {
  it('read a missing stream as empty, backwards from the end, and $all with positions', async () => {
    expect(await collect(readStream(store.client, fresh('nothing')))).toEqual([]);
    expect(await lastEvent(store.client, fresh('nothing'))).toBeUndefined();
    const stream = fresh('read');
    await appendToStream(
      store.client,
      stream,
      Array.from({ length: 5 }, (_, n) => ({ type: 'N', data: { n } })),
    );
    const backwards = await collect(
      readStream(store.client, stream, { direction: BACKWARDS, fromRevision: END, maxCount: 2 }),
    );
    expect(backwards.map((event) => event.revision)).toEqual([4n, 3n]);
    expect((await lastEvent(store.client, stream))?.revision).toBe(4n);
    const newest = await collect(
      readAll(store.client, { direction: BACKWARDS, fromPosition: END, maxCount: 1 }),
    );
    expect(newest[0]!.position).toEqual(backwards[0]!.position);
  });

  it('stop the call when the loop is left early, so the client still disposes', async () => {
    const own = await startTestStore();
    await appendToStream(
      own.client,
      'long',
      Array.from({ length: 3_000 }, (_, n) => ({ type: 'N', data: { n, pad: 'x'.repeat(200) } })),
    );
    for await (const event of readStream(own.client, 'long')) if (event.revision === 2n) break;
    for await (const event of readAll(own.client)) if (event.streamId === 'long') break;
    // A call left paused would keep dispose() waiting past the test's timeout.
    await own.stop();
  });

  it('write and read stream metadata', async () => {
    const stream = fresh('meta');
    expect(await readStreamMetadata(store.client, stream)).toBeUndefined();
    await writeStreamMetadata(store.client, stream, { maxCount: 1 });
    expect(await readStreamMetadata(store.client, stream)).toMatchObject({ maxCount: 1 });
    await appendToStream(store.client, stream, [
      { type: 'N', data: { n: 0 } },
      { type: 'N', data: { n: 1 } },
    ]);
    expect((await collect(readStream(store.client, stream))).map((event) => event.data)).toEqual([{ n: 1 }]);
  });
});

describe('subscribeToAll', () => {
  it('delivers only the event types asked for, says when it is caught up, and ends on unsubscribe', async () => {
    const tag = randomUUID();
    await appendToStream(store.client, fresh('sub'), [
      { type: `Wanted-${tag}`, data: { n: 0 } },
      { type: `Other-${tag}`, data: { n: 1 } },
    ]);
    let caughtUp!: () => void;
    const live = new Promise<void>((resolve) => (caughtUp = resolve));
    const subscription = subscribeToAll(store.client, {
      fromPosition: START,
      eventTypePrefixes: [`Wanted-${tag}`],
      onCaughtUp: () => caughtUp(),
    });
    const seen: unknown[] = [];
    const reading = (async () => {
      for await (const event of subscription) {
        seen.push(event.data);
        expect(event.position.commit).toBeGreaterThan(0n);
      }
    })();
    await live;
    await appendToStream(store.client, fresh('sub'), { type: `Wanted-${tag}`, data: { n: 2 } });
    while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    await subscription.unsubscribe();
    await reading;
    expect(seen).toEqual([{ n: 0 }, { n: 2 }]);
  });
});

describe('a store that is gone', () => {
  it('fails appends with StoreUnavailable', async () => {
    const gone = await startTestStore();
    const client = connectClient(gone.connectionString);
    await appendToStream(client, 'before', { type: 'A', data: {} });
    await gone.stop();
    try {
      await expect(appendToStream(client, 'after', { type: 'A', data: {} })).rejects.toBeInstanceOf(
        StoreUnavailable,
      );
    } finally {
      await client.dispose();
    }
  });
});
