// Link events (`$>`, data `revision@stream`) appended by a client: with resolveLinkTos, reads of a
// stream and of `$all` and catch-up subscriptions return the linked event with the link beside it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  END,
  START,
  binaryEvent,
  jsonEvent,
  streamNameFilter,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { startTestStore, type TestStore } from '../helpers/store.ts';

let store: TestStore;
beforeAll(async () => {
  store = await startTestStore();
  await store.client.appendToStream('target', [
    jsonEvent({ type: 'First', data: { n: 0 } }),
    jsonEvent({ type: 'Second', data: { n: 1 } }),
  ]);
  await store.client.appendToStream('doomed', jsonEvent({ type: 'Doomed', data: {} }));
  await store.client.appendToStream(
    'links',
    ['1@target', '0@target', '7@target', '0@doomed'].map((to) =>
      binaryEvent({ type: '$>', data: Buffer.from(to, 'utf8') }),
    ),
  );
  await store.client.deleteStream('doomed');
});
afterAll(() => store.stop());

/** What a reader sees of each event: the linked event's stream/revision/type and the link's, if any. */
const shape = (resolved: ResolvedEvent) => ({
  event: resolved.event && `${resolved.event.type}@${resolved.event.streamId}/${resolved.event.revision}`,
  link: resolved.link && `${resolved.link.type}@${resolved.link.streamId}/${resolved.link.revision}`,
});

const RESOLVED = [
  { event: 'Second@target/1', link: '$>@links/0' },
  { event: 'First@target/0', link: '$>@links/1' },
  // A link to an event that was never written, or whose stream was deleted, resolves to nothing.
  { event: undefined, link: '$>@links/2' },
  { event: undefined, link: '$>@links/3' },
];

async function all(events: AsyncIterable<ResolvedEvent>): Promise<ResolvedEvent[]> {
  const seen: ResolvedEvent[] = [];
  for await (const resolved of events) seen.push(resolved);
  return seen;
}

describe('links', () => {
  it('are returned as written without resolveLinkTos', async () => {
    const read = await all(store.client.readStream('links'));
    expect(read.map(shape)).toEqual([0, 1, 2, 3].map((n) => ({ event: `$>@links/${n}`, link: undefined })));
    expect(Buffer.from(read[0]!.event!.data as Uint8Array).toString()).toBe('1@target');
  });

  it('resolve to the linked event on stream reads', async () => {
    const read = await all(store.client.readStream('links', { resolveLinkTos: true }));
    expect(read.map(shape)).toEqual(RESOLVED);
    expect(read[0]!.event!.data).toEqual({ n: 1 });
  });

  it('resolve on $all reads, in both directions', async () => {
    const forwards = await all(store.client.readAll({ resolveLinkTos: true }));
    expect(forwards.filter((resolved) => resolved.link).map(shape)).toEqual(RESOLVED);
    const backwards = await all(
      store.client.readAll({ resolveLinkTos: true, direction: 'backwards', fromPosition: END }),
    );
    expect(backwards.filter((resolved) => resolved.link).map(shape)).toEqual([...RESOLVED].reverse());
  });

  it('resolve in catch-up subscriptions to a stream and to $all, live events included', async () => {
    const stream = store.client.subscribeToStream('links', { fromRevision: START, resolveLinkTos: true });
    const everything = store.client.subscribeToAll({
      fromPosition: START,
      resolveLinkTos: true,
      filter: streamNameFilter({ prefixes: ['links'] }),
    });
    await store.client.appendToStream('links', binaryEvent({ type: '$>', data: Buffer.from('0@target') }));
    const expected = [...RESOLVED, { event: 'First@target/0', link: '$>@links/4' }];
    for (const subscription of [stream, everything]) {
      const seen: ResolvedEvent[] = [];
      for await (const resolved of subscription) {
        seen.push(resolved);
        if (seen.length === expected.length) break;
      }
      expect(seen.map(shape)).toEqual(expected);
    }
  });
});
