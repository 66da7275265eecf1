// Appends through the unmodified client, on both of its paths: BatchAppend (used when the node
// advertises it) and the plain Append call (the client takes it when a call carries credentials).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MaxAppendSizeExceededError,
  StreamDeletedError,
  WrongExpectedVersionError,
  jsonEvent,
  type AppendExpectedRevision,
  type AppendResult,
  type EventStoreDBClient,
} from '@eventstore/db-client';
import { startTestStore, type TestStore } from '../helpers/store.ts';

let store: TestStore;
beforeAll(async () => {
  store = await startTestStore();
});
afterAll(() => store.stop());

const event = (n: number, id: string = randomUUID()) => jsonEvent({ id, type: 'Tested', data: { n } });

async function revisions(client: EventStoreDBClient, stream: string): Promise<bigint[]> {
  const found: bigint[] = [];
  for await (const resolved of client.readStream(stream)) found.push(resolved.event!.revision);
  return found;
}

const paths = [
  { name: 'BatchAppend', options: {} },
  // Credentials are ignored on an insecure connection but make the client use the plain Append call.
  { name: 'Append', options: { credentials: { username: 'admin', password: 'changeit' } } },
] as const;

describe.each(paths)('appending through $name', ({ options }) => {
  const append = (
    stream: string,
    events: ReturnType<typeof event>[],
    expectedRevision: AppendExpectedRevision,
  ): Promise<AppendResult> => store.client.appendToStream(stream, events, { ...options, expectedRevision });

  const wrongVersion = async (promise: Promise<unknown>): Promise<WrongExpectedVersionError> => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    return error as WrongExpectedVersionError;
  };

  it('honours every kind of expected revision and reports expected and actual on conflict', async () => {
    const stream = `matrix-${randomUUID()}`;

    const existsOnMissing = await wrongVersion(append(stream, [event(0)], 'stream_exists'));
    expect([existsOnMissing.expectedVersion, existsOnMissing.actualVersion]).toEqual([
      'stream_exists',
      'no_stream',
    ]);
    const exactOnMissing = await wrongVersion(append(stream, [event(0)], 0n));
    expect([exactOnMissing.expectedVersion, exactOnMissing.actualVersion]).toEqual([0n, 'no_stream']);

    const created = await append(stream, [event(0), event(1)], 'no_stream');
    expect(created.nextExpectedRevision).toBe(1n);

    const noStreamOnExisting = await wrongVersion(append(stream, [event(2)], 'no_stream'));
    expect([
      noStreamOnExisting.streamName,
      noStreamOnExisting.expectedVersion,
      noStreamOnExisting.actualVersion,
    ]).toEqual([stream, 'no_stream', 1n]);
    const staleExact = await wrongVersion(append(stream, [event(2)], 0n));
    expect([staleExact.expectedVersion, staleExact.actualVersion]).toEqual([0n, 1n]);
    const futureExact = await wrongVersion(append(stream, [event(2)], 5n));
    expect([futureExact.expectedVersion, futureExact.actualVersion]).toEqual([5n, 1n]);

    expect((await append(stream, [event(2)], 1n)).nextExpectedRevision).toBe(2n);
    expect((await append(stream, [event(3)], 'stream_exists')).nextExpectedRevision).toBe(3n);
    expect((await append(stream, [event(4)], 'any')).nextExpectedRevision).toBe(4n);
    expect(await revisions(store.client, stream)).toEqual([0n, 1n, 2n, 3n, 4n]);
  });

  it('answers a repeated append with the original result and writes nothing twice', async () => {
    const stream = `idempotent-${randomUUID()}`;
    const batch = [event(0), event(1), event(2)];
    const first = await append(stream, batch, 'no_stream');
    expect(await append(stream, batch, 'no_stream')).toEqual(first);

    const next = [event(3), event(4)];
    const second = await append(stream, next, 2n);
    expect(await append(stream, next, 2n)).toEqual(second);
    expect(await append(stream, next, 'any')).toEqual(second);
    expect(await revisions(store.client, stream)).toEqual([0n, 1n, 2n, 3n, 4n]);
  });

  it('refuses a batch of which only some events were already appended', async () => {
    const stream = `partial-${randomUUID()}`;
    const [a, b, c] = [event(0), event(1), event(2)];
    await append(stream, [a, b], 'no_stream');
    const error = await wrongVersion(append(stream, [b, c], 'any'));
    expect(error.actualVersion).toBe(1n);
    const afterItsStart = await wrongVersion(append(stream, [a, b], 5n));
    expect(afterItsStart.actualVersion).toBe(1n);
    expect(await revisions(store.client, stream)).toEqual([0n, 1n]);
  });

  it('rejects an append larger than the maximum append size', async () => {
    const stream = `oversize-${randomUUID()}`;
    const big = jsonEvent({ type: 'Big', data: { blob: 'x'.repeat(1_100_000) } });
    const error = await store.client.appendToStream(stream, big, options).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MaxAppendSizeExceededError);
    expect((error as MaxAppendSizeExceededError).maxAppendSize).toBe(1_048_576);
    const small = await append(stream, [event(0)], 'no_stream');
    expect(small.nextExpectedRevision).toBe(0n);
  });

  it('refuses appends to a tombstoned stream', async () => {
    const stream = `tombstoned-${randomUUID()}`;
    await append(stream, [event(0)], 'no_stream');
    await store.client.tombstoneStream(stream);
    const error = await append(stream, [event(1)], 'any').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StreamDeletedError);
  });
});

describe('positions in $all', () => {
  it('increase strictly in the order appends commit, also when appends run concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        store.client.appendToStream(`concurrent-${n % 4}-${randomUUID()}`, event(n)),
      ),
    );
    const positions = results.map((result) => result.position!.commit);
    expect(new Set(positions).size).toBe(positions.length);
    const read: bigint[] = [];
    for await (const resolved of store.client.readAll({
      fromPosition: { commit: positions.reduce((a, b) => (a < b ? a : b)), prepare: 0n },
    })) {
      read.push(resolved.event!.position!.commit);
    }
    expect(read).toEqual([...read].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(read).toEqual(expect.arrayContaining(positions));
  });
});
