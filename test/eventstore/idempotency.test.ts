// The node's two idempotency modes: `full` (its own, stricter) and `recent` (EventStoreDB's rules,
// src/eventstore/embedded/idempotency.ts), with a small cache so that ids age out of it cheaply.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANY, NO_STREAM, WrongExpectedVersionError, jsonEvent } from '@eventstore/db-client';
import { LimitError, resolveLimits } from '../../src/eventstore/embedded/limits.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const CACHE = 8;

let full: TestStore;
let recent: TestStore;
beforeAll(async () => {
  [full, recent] = await Promise.all([
    startTestStore(),
    startTestStore({ idempotency: 'recent', limits: { idempotencyCacheSize: CACHE } }),
  ]);
});
afterAll(() => Promise.all([full?.stop(), recent?.stop()]));

const event = (id: string = randomUUID()) => jsonEvent({ id, type: 'Tested', data: {} });

async function ids(store: TestStore, stream: string): Promise<string[]> {
  const found: string[] = [];
  for await (const resolved of store.client.readStream(stream)) found.push(resolved.event!.id);
  return found;
}

/** Appends CACHE events to another stream, pushing every earlier id out of the recent cache. */
async function flushCache(store: TestStore): Promise<void> {
  await store.client.appendToStream(
    `filler-${randomUUID()}`,
    Array.from({ length: CACHE }, () => event()),
  );
}

const rejected = (promise: Promise<unknown>) =>
  expect(promise).rejects.toBeInstanceOf(WrongExpectedVersionError);

describe('idempotency: recent (EventStoreDB)', () => {
  it('recognises a recent ANY replay, and appends it again once its id has left the cache', async () => {
    const stream = `recent-${randomUUID()}`;
    const first = event();
    const written = await recent.client.appendToStream(stream, [first], { expectedRevision: ANY });
    const replay = await recent.client.appendToStream(stream, [first], { expectedRevision: ANY });
    expect(replay.nextExpectedRevision).toBe(written.nextExpectedRevision);
    expect(await ids(recent, stream)).toEqual([first.id]);

    await flushCache(recent);
    const late = await recent.client.appendToStream(stream, [first], { expectedRevision: ANY });
    expect(late.nextExpectedRevision).toBe(1n);
    expect(await ids(recent, stream)).toEqual([first.id, first.id]);
  });

  it('decides an ANY batch by its first id: new first writes all, known first and new later conflicts', async () => {
    const stream = `first-${randomUUID()}`;
    const [a, b, c] = [event(), event(), event()];
    await recent.client.appendToStream(stream, [a], { expectedRevision: ANY });
    await rejected(recent.client.appendToStream(stream, [a, b], { expectedRevision: ANY }));
    await recent.client.appendToStream(stream, [c, a], { expectedRevision: ANY });
    expect(await ids(recent, stream)).toEqual([a.id, c.id, a.id]);
  });

  it('checks an exact revision against the stored events, however old', async () => {
    const stream = `exact-${randomUUID()}`;
    const [a, b] = [event(), event()];
    await recent.client.appendToStream(stream, [a, b], { expectedRevision: NO_STREAM });
    await flushCache(recent);
    // A lost ack retried with the same expected revision: answered as the original, nothing written.
    const retried = await recent.client.appendToStream(stream, [a, b], { expectedRevision: NO_STREAM });
    expect(retried.nextExpectedRevision).toBe(1n);
    const second = await recent.client.appendToStream(stream, [b], { expectedRevision: 0n });
    expect(second.nextExpectedRevision).toBe(1n);
    // Other events at those revisions, or a batch running past the end: a conflict.
    await rejected(recent.client.appendToStream(stream, [event()], { expectedRevision: 0n }));
    await rejected(recent.client.appendToStream(stream, [b, event()], { expectedRevision: 0n }));
    expect(await ids(recent, stream)).toEqual([a.id, b.id]);
  });

  it('writes an event already in the stream again when the expected revision is the current one', async () => {
    const stream = `current-${randomUUID()}`;
    const a = event();
    await recent.client.appendToStream(stream, [a], { expectedRevision: NO_STREAM });
    const again = await recent.client.appendToStream(stream, [a], { expectedRevision: 0n });
    expect(again.nextExpectedRevision).toBe(1n);
    expect(await ids(recent, stream)).toEqual([a.id, a.id]);
  });

  it('forgets everything at a restart, as an in-memory cache does', async () => {
    const restarted = await startTestStore({ idempotency: 'recent', keepData: true });
    try {
      const stream = `restart-${randomUUID()}`;
      const a = event();
      await restarted.client.appendToStream(stream, [a], { expectedRevision: ANY });
      const dataDir = restarted.dataDir;
      await restarted.stop();
      const again = await startTestStore({ idempotency: 'recent', dataDir, keepData: false });
      try {
        await again.client.appendToStream(stream, [a], { expectedRevision: ANY });
        expect(await ids(again, stream)).toEqual([a.id, a.id]);
      } finally {
        await again.stop();
      }
    } finally {
      await restarted.stop();
    }
  });
});

describe('idempotency: full (the default)', () => {
  it('recognises an ANY replay however old, and refuses a batch that is only partly there', async () => {
    const stream = `full-${randomUUID()}`;
    const [a, b] = [event(), event()];
    await full.client.appendToStream(stream, [a], { expectedRevision: ANY });
    await flushCache(full);
    await full.client.appendToStream(stream, [a], { expectedRevision: ANY });
    await rejected(full.client.appendToStream(stream, [b, a], { expectedRevision: ANY }));
    await rejected(full.client.appendToStream(stream, [a], { expectedRevision: 0n }));
    expect(await ids(full, stream)).toEqual([a.id]);
  });
});

describe('choosing the mode', () => {
  it('takes EVENTSTORE_IDEMPOTENCY and the flag (which wins), and refuses anything else with the words it takes', () => {
    expect(resolveLimits({}).idempotency).toBe('full');
    expect(resolveLimits({ EVENTSTORE_IDEMPOTENCY: 'recent' })).toMatchObject({
      idempotency: 'recent',
      idempotencyCacheSize: 100_000,
    });
    expect(
      resolveLimits(
        { EVENTSTORE_IDEMPOTENCY: 'recent', EVENTSTORE_IDEMPOTENCY_CACHE_SIZE: '50' },
        { idempotency: 'full' },
      ),
    ).toMatchObject({ idempotency: 'full', idempotencyCacheSize: 50 });
    expect(() => resolveLimits({ EVENTSTORE_IDEMPOTENCY: 'sometimes' })).toThrow(
      new LimitError('EVENTSTORE_IDEMPOTENCY: expected one of full, recent, got sometimes'),
    );
    expect(() => resolveLimits({}, { idempotencyCacheSize: '0' })).toThrow(LimitError);
  });
});
