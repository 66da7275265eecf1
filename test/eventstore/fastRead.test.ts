// The fast forwards read (src/eventstore/fastRead.ts) against the client's public readStream: on the same
// streams, the same events, whatever they hold.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryEvent, jsonEvent } from '@eventstore/db-client';
import { StoreStreamDeleted } from '../../src/eventstore/errors.ts';
import {
  canReadFast,
  FAST_READ_CLIENT_VERSION,
  lockedClientVersion,
  readForwards,
  readForwardsFast,
  readForwardsPublic,
  type LeanEvent,
} from '../../src/eventstore/fastRead.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

let store: TestStore;
beforeAll(async () => {
  store = await startTestStore();
});
afterAll(() => store.stop());

type Reader = typeof readForwardsFast;

async function collect(read: Reader, stream: string, from = 0): Promise<LeanEvent[]> {
  const events: LeanEvent[] = [];
  for await (const event of read(store.client, stream, from)) events.push(event);
  return events;
}

/** A stream of every kind of event a replay may meet, more than one gRPC message's worth. */
async function mixedStream(): Promise<string> {
  const stream = `fast-${randomUUID()}`;
  const events = Array.from({ length: 1_500 }, (_, n) =>
    n % 250 === 7
      ? binaryEvent({ type: 'Opaque', data: Buffer.from([0, 1, 2, n % 256]) })
      : jsonEvent({
          type: n % 3 === 0 ? 'TradeRecorded' : `Other-${n % 5}`,
          data: {
            n,
            price: `${43_000 + n}.125`,
            text: n % 10 === 0 ? 'ünïcødé ✓ 𝄞' : 'plain',
            nested: { list: [n, null, true, { deep: 'x'.repeat(n % 7) }] },
          },
          metadata: n % 2 === 0 ? { tradePosition: `${n}/${n}` } : undefined,
        }),
  );
  await store.client.appendToStream(stream, events);
  await store.client.appendToStream(stream, [
    jsonEvent({ type: 'Empty', data: {} }),
    jsonEvent({ type: 'Big', data: { blob: 'b'.repeat(200_000) } }),
  ]);
  return stream;
}

describe('the fast forwards read', () => {
  it('gives exactly the events the public readStream gives, from the start and from any revision', async () => {
    const stream = await mixedStream();
    const publicEvents = await collect(readForwardsPublic, stream);
    expect(publicEvents).toHaveLength(1_502);
    expect(publicEvents.filter((event) => event.data === undefined)).toHaveLength(6);
    expect(await collect(readForwardsFast, stream)).toEqual(publicEvents);
    for (const from of [1, 777, 1_501, 1_502, 5_000])
      expect(await collect(readForwardsFast, stream, from)).toEqual(
        await collect(readForwardsPublic, stream, from),
      );
  });

  it('agrees on streams that are missing, truncated, soft-deleted and written again', async () => {
    expect(await collect(readForwardsFast, `missing-${randomUUID()}`)).toEqual([]);
    expect(await collect(readForwardsPublic, `missing-${randomUUID()}`)).toEqual([]);

    const truncated = `truncated-${randomUUID()}`;
    await store.client.appendToStream(
      truncated,
      Array.from({ length: 10 }, (_, n) => jsonEvent({ type: 'Numbered', data: { n } })),
    );
    await store.client.setStreamMetadata(truncated, { truncateBefore: 4 });
    const afterTruncation = await collect(readForwardsPublic, truncated);
    expect(afterTruncation.map((event) => event.revision)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(await collect(readForwardsFast, truncated)).toEqual(afterTruncation);

    const deleted = `deleted-${randomUUID()}`;
    await store.client.appendToStream(deleted, jsonEvent({ type: 'Numbered', data: { n: 0 } }));
    await store.client.deleteStream(deleted);
    expect(await collect(readForwardsFast, deleted)).toEqual([]);
    expect(await collect(readForwardsPublic, deleted)).toEqual([]);
    await store.client.appendToStream(deleted, jsonEvent({ type: 'Numbered', data: { n: 1 } }));
    const rewritten = await collect(readForwardsPublic, deleted);
    expect(rewritten).toEqual([{ revision: 1, type: 'Numbered', data: { n: 1 } }]);
    expect(await collect(readForwardsFast, deleted)).toEqual(rewritten);
  });

  it('fails the same way on a tombstoned stream', async () => {
    const stream = `tombstoned-${randomUUID()}`;
    await store.client.appendToStream(stream, jsonEvent({ type: 'Numbered', data: { n: 0 } }));
    await store.client.tombstoneStream(stream);
    await expect(collect(readForwardsPublic, stream)).rejects.toBeInstanceOf(StoreStreamDeleted);
    await expect(collect(readForwardsFast, stream)).rejects.toBeInstanceOf(StoreStreamDeleted);
  });

  it('stops the call when left early, so the client still disposes', async () => {
    const own = await startTestStore();
    await own.client.appendToStream(
      'early',
      Array.from({ length: 2_000 }, (_, n) => jsonEvent({ type: 'Numbered', data: { n } })),
    );
    const first: number[] = [];
    for await (const event of readForwardsFast(own.client, 'early', 0)) {
      first.push(event.revision);
      if (first.length === 3) break;
    }
    expect(first).toEqual([0, 1, 2]);
    // With the call left open, disposing the client would wait for it past the test's timeout.
    await own.stop();
  });
});

describe('the client version check', () => {
  it('takes the fast path only with the client version the lockfile pins, if it is the one written against', () => {
    const lockfile = readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8');
    const installed = JSON.parse(
      readFileSync(new URL('../../node_modules/@eventstore/db-client/package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(lockedClientVersion(lockfile)).toBe(installed.version);
    expect(canReadFast(store.client)).toBe(installed.version === FAST_READ_CLIENT_VERSION);
    expect(canReadFast(store.client, FAST_READ_CLIENT_VERSION)).toBe(true);
    expect(canReadFast(store.client, '6.3.0')).toBe(false);
    expect(lockedClientVersion('{"packages":{}}')).toBeUndefined();
    expect(lockedClientVersion('not json')).toBeUndefined();
  });

  it('reads through the public path with a client that lacks the internals', async () => {
    const stream = await mixedStream();
    const plain = new Proxy(store.client, {
      get: (target, key) => {
        if (key === 'GRPCStreamCreator') return undefined;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    expect(canReadFast(plain, FAST_READ_CLIENT_VERSION)).toBe(false);
    const events: LeanEvent[] = [];
    for await (const event of readForwards(plain, stream, 1_400)) events.push(event);
    expect(events).toEqual(await collect(readForwardsFast, stream, 1_400));
  });
});
