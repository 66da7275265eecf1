// Calls against time and shutdown: a deadline that passes before the commit writes nothing and fails
// with DeadlineExceeded; calls in flight when the node stops fail with UNAVAILABLE, as on EventStoreDB.
import { afterEach, describe, expect, it } from 'vitest';
import {
  DeadlineExceededError,
  StreamNotFoundError,
  UnavailableError,
  jsonEvent,
  START,
} from '@eventstore/db-client';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: Parameters<typeof startTestStore>[0] = {}): Promise<TestStore> {
  const store = await startTestStore(options);
  cleanups.push(() => store.stop());
  return store;
}

const many = (count: number, size = 0) =>
  Array.from({ length: count }, (_, n) => jsonEvent({ type: 'Bulk', data: { n, pad: 'x'.repeat(size) } }));

async function streamLength(store: TestStore, stream: string): Promise<number> {
  let count = 0;
  try {
    for await (const _ of store.client.readStream(stream)) count += 1;
  } catch (error) {
    if (error instanceof StreamNotFoundError) return 0;
    throw error;
  }
  return count;
}

describe('deadlines', () => {
  it('fails a 30,000-event append whose 1 ms deadline passes before the commit, writing nothing', async () => {
    const store = await started();
    await expect(store.client.appendToStream('late', many(30_000), { deadline: 1 })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
    expect(await streamLength(store, 'late')).toBe(0);
    // The shared BatchAppend stream still serves the next append.
    const next = await store.client.appendToStream('late', many(3));
    expect(next.nextExpectedRevision).toBe(2n);
  });
});

describe('shutdown', () => {
  it('fails an append in flight and a live subscription with UNAVAILABLE', async () => {
    const store = await started({ limits: { maxAppendSize: 256 * 1024 * 1024 } });
    const subscription = store.client.subscribeToAll({ fromPosition: START });
    const dropped = new Promise<unknown>((resolve) => subscription.on('error', resolve));
    await new Promise((resolve) => subscription.once('caughtUp', resolve));

    // The connection and the client's BatchAppend stream are open, so the next append goes straight out.
    await store.client.appendToStream('cut', many(1));
    const append = store.client.appendToStream('cut', many(40_000, 50)).then(
      () => 'committed',
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.node.stop();
    expect(await append).toBeInstanceOf(UnavailableError);
    expect(await dropped).toBeInstanceOf(UnavailableError);
  });
});
