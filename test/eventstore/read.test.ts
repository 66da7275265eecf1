// Reads of streams and $all, deletion, tombstones and stream metadata, as EventStoreDB answers them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKWARDS,
  END,
  FORWARDS,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  jsonEvent,
  type ReadStreamOptions,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { startTestStore, type TestStore } from '../helpers/store.ts';

let store: TestStore;
beforeAll(async () => {
  store = await startTestStore();
});
afterAll(() => store.stop());

async function collect(source: AsyncIterable<ResolvedEvent>): Promise<ResolvedEvent[]> {
  const events: ResolvedEvent[] = [];
  for await (const resolved of source) events.push(resolved);
  return events;
}

const numbers = (events: ResolvedEvent[]): number[] =>
  events.map((resolved) => (resolved.event!.data as { n: number }).n);
const readNumbers = async (stream: string, options?: ReadStreamOptions): Promise<number[]> =>
  numbers(await collect(store.client.readStream(stream, options)));

async function seed(count: number): Promise<string> {
  const stream = `read-${randomUUID()}`;
  await store.client.appendToStream(
    stream,
    Array.from({ length: count }, (_, n) =>
      jsonEvent({ type: 'Numbered', data: { n }, metadata: { origin: 'test' } }),
    ),
  );
  return stream;
}

describe('reading a stream', () => {
  it('goes forwards and backwards from the start, the end or a revision, up to maxCount', async () => {
    const stream = await seed(10);
    expect(await readNumbers(stream)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await readNumbers(stream, { fromRevision: 7n, direction: FORWARDS })).toEqual([7, 8, 9]);
    expect(await readNumbers(stream, { fromRevision: START, maxCount: 2 })).toEqual([0, 1]);
    expect(await readNumbers(stream, { fromRevision: END, direction: BACKWARDS, maxCount: 3 })).toEqual([
      9, 8, 7,
    ]);
    expect(await readNumbers(stream, { fromRevision: 2n, direction: BACKWARDS })).toEqual([2, 1, 0]);
    expect(await readNumbers(stream, { fromRevision: END, direction: FORWARDS })).toEqual([]);
  });

  it('returns each event as it was appended', async () => {
    const stream = await seed(1);
    const [resolved] = await collect(store.client.readStream(stream));
    expect(resolved?.event).toMatchObject({
      streamId: stream,
      revision: 0n,
      type: 'Numbered',
      isJson: true,
      data: { n: 0 },
      metadata: { origin: 'test' },
    });
    expect(Math.abs(resolved!.event!.created.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('reports a stream that was never written as not found', async () => {
    await expect(collect(store.client.readStream(`missing-${randomUUID()}`))).rejects.toBeInstanceOf(
      StreamNotFoundError,
    );
  });

  it('pages through a stream longer than one page', async () => {
    const stream = `long-${randomUUID()}`;
    const events = Array.from({ length: 1_500 }, (_, n) => jsonEvent({ type: 'Numbered', data: { n } }));
    await store.client.appendToStream(stream, events);
    const read = await readNumbers(stream);
    expect(read).toHaveLength(1_500);
    expect(read.every((n, index) => n === index)).toBe(true);
  });
});

describe('reading $all', () => {
  it('goes forwards from a position (inclusive) and backwards from the end', async () => {
    const stream = await seed(3);
    const ofStream = await collect(store.client.readStream(stream));
    const second = ofStream[1]!.event!.position!;
    const forwards = await collect(store.client.readAll({ fromPosition: second, maxCount: 2 }));
    expect(forwards.map((resolved) => resolved.event!.revision)).toEqual([1n, 2n]);
    const backwards = await collect(
      store.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 3 }),
    );
    expect(backwards.map((resolved) => [resolved.event!.streamId, resolved.event!.revision])).toEqual([
      [stream, 2n],
      [stream, 1n],
      [stream, 0n],
    ]);
    const fromStart = await collect(store.client.readAll({ fromPosition: START, maxCount: 1 }));
    expect(fromStart[0]!.event!.position!.commit).toBeLessThanOrEqual(ofStream[0]!.event!.position!.commit);
  });
});

describe('deleting', () => {
  it('soft-deletes a stream, which can then be written again continuing its revisions', async () => {
    const stream = await seed(3);
    await store.client.deleteStream(stream);
    await expect(collect(store.client.readStream(stream))).rejects.toBeInstanceOf(StreamNotFoundError);
    const result = await store.client.appendToStream(
      stream,
      jsonEvent({ type: 'Numbered', data: { n: 3 } }),
      { expectedRevision: 'no_stream' },
    );
    expect(result.nextExpectedRevision).toBe(3n);
    expect(await readNumbers(stream)).toEqual([3]);
  });

  it('tombstones a stream: reads and writes answer StreamDeleted from then on', async () => {
    const stream = await seed(2);
    await store.client.tombstoneStream(stream, { expectedRevision: 1n });
    await expect(collect(store.client.readStream(stream))).rejects.toBeInstanceOf(StreamDeletedError);
    await expect(store.client.deleteStream(stream)).rejects.toBeInstanceOf(StreamDeletedError);
  });

  it('checks the expected revision of a delete', async () => {
    const stream = await seed(2);
    await expect(store.client.deleteStream(stream, { expectedRevision: 0n })).rejects.toMatchObject({
      type: 'wrong-expected-version',
      expectedVersion: 0n,
      actualVersion: 1n,
    });
    expect(await readNumbers(stream)).toEqual([0, 1]);
  });
});

describe('stream metadata', () => {
  it('is stored in the $$ metastream and round-trips through the client', async () => {
    const stream = await seed(1);
    await store.client.setStreamMetadata(stream, { maxCount: 5, custom: 'kept' });
    const { metadata } = await store.client.getStreamMetadata(stream);
    expect(metadata).toEqual({ maxCount: 5, custom: 'kept' });
    const meta = await collect(store.client.readStream(`$$${stream}`));
    expect(meta.map((resolved) => resolved.event!.type)).toEqual(['$metadata']);
  });

  it('hides events beyond $maxCount and before $tb', async () => {
    const stream = await seed(6);
    await store.client.setStreamMetadata(stream, { maxCount: 2 });
    expect(await readNumbers(stream)).toEqual([4, 5]);
    expect(await readNumbers(stream, { direction: BACKWARDS, fromRevision: END })).toEqual([5, 4]);
    await store.client.setStreamMetadata(stream, { truncateBefore: 3 });
    expect(await readNumbers(stream)).toEqual([3, 4, 5]);
  });

  it('hides events older than $maxAge', async () => {
    const stream = await seed(2);
    await store.client.setStreamMetadata(stream, { maxAge: 1 });
    expect(await readNumbers(stream)).toEqual([0, 1]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await readNumbers(stream)).toEqual([]);
  });
});
