// What the scavenge tests write and compare: checkpoint-like bulk in `$maxCount` 1 streams, streams of
// every kind a scavenge judges, and the events a user can still read (stream reads and `$all`).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  START,
  StreamDeletedError,
  jsonEvent,
  type AllStreamResolvedEvent,
  type EventStoreDBClient,
  type ResolvedEvent,
} from '@eventstore/db-client';

export const CHECKPOINTS = 'pricealert-reactor-checkpoint';
const BATCH = 10_000;

/** `count` checkpoint-like events in a `$maxCount` 1 stream, in batches, as the reactor would leave them. */
export async function writeCheckpoints(
  client: EventStoreDBClient,
  count: number,
  stream = CHECKPOINTS,
): Promise<void> {
  await client.setStreamMetadata(stream, { maxCount: 1 });
  for (let written = 0; written < count; written += BATCH) {
    const events = Array.from({ length: Math.min(BATCH, count - written) }, (_, index) =>
      jsonEvent({ type: 'Checkpoint', data: { position: written + index, at: '2026-01-01T00:00:00Z' } }),
    );
    await client.appendToStream(stream, events);
  }
}

export interface Seen {
  readonly id: string;
  readonly type: string;
  readonly stream: string;
  readonly revision: bigint;
  readonly position: bigint | undefined;
}

const seen = ({ event }: ResolvedEvent | AllStreamResolvedEvent): Seen => ({
  id: event!.id,
  type: event!.type,
  stream: event!.streamId,
  revision: event!.revision,
  position: event!.position?.commit,
});

export async function readAll(client: EventStoreDBClient): Promise<Seen[]> {
  const events: Seen[] = [];
  for await (const resolved of client.readAll({ fromPosition: START, maxCount: 10_000_000 }))
    events.push(seen(resolved));
  return events;
}

/** What a read of the stream returns; `deleted` when the stream is tombstoned. */
export async function readStream(client: EventStoreDBClient, stream: string): Promise<Seen[] | 'deleted'> {
  const events: Seen[] = [];
  try {
    for await (const resolved of client.readStream(stream, { maxCount: 10_000_000 }))
      events.push(seen(resolved));
  } catch (error) {
    if (error instanceof StreamDeletedError) return 'deleted';
    if (error instanceof Error && error.name === 'StreamNotFoundError') return [];
    throw error;
  }
  return events;
}

/**
 * Every stream's read, and the `$all` a user should see after a scavenge: the events that stream
 * reads return (and the tombstones), in the order and at the positions they had. `$all` is read
 * before the bulky streams were written (`earlier`); they are known by name, so that a test need not
 * page through their hidden events.
 */
export async function liveView(
  client: EventStoreDBClient,
  earlier: readonly Seen[],
  bulky: readonly string[],
): Promise<{ streams: Map<string, Seen[] | 'deleted'>; all: Seen[] }> {
  const streams = new Map<string, Seen[] | 'deleted'>();
  for (const name of new Set([...earlier.map((event) => event.stream), ...bulky]))
    streams.set(name, await readStream(client, name));
  const returned = new Map(
    [...streams.values()].flatMap((events) =>
      events === 'deleted' ? [] : events.map((event) => [event.id, event] as const),
    ),
  );
  const tombstone = (event: Seen): boolean =>
    streams.get(event.stream) === 'deleted' && event.type === '$streamDeleted';
  const all = [
    ...new Map(
      [...earlier.filter(tombstone), ...returned.values()].map((event) => [event.id, event]),
    ).values(),
  ].sort((a, b) => (a.position! < b.position! ? -1 : 1));
  return { streams, all };
}

export const onDisk = (dataDir: string): number =>
  ['events.sqlite', 'events.sqlite-wal']
    .map((file) => statSync(join(dataDir, file), { throwIfNoEntry: false })?.size ?? 0)
    .reduce((sum, size) => sum + size, 0);

/** Streams of every kind a scavenge has to judge, interleaved in `$all` with checkpoints. */
export async function writeMixedStreams(client: EventStoreDBClient): Promise<void> {
  for (let round = 0; round < 5; round += 1) {
    await client.appendToStream(
      'trades-BTC-USD',
      Array.from({ length: 20 }, (_, n) => jsonEvent({ type: 'TradeRecorded', data: { round, n } })),
    );
    await client.appendToStream(`truncated`, jsonEvent({ type: 'Noted', data: { round } }));
    await client.appendToStream(`tombstoned`, jsonEvent({ type: 'Noted', data: { round } }));
    await client.appendToStream(`soft-deleted`, jsonEvent({ type: 'Noted', data: { round } }));
    await client.appendToStream(`aged`, jsonEvent({ type: 'Noted', data: { round } }));
    await writeCheckpoints(client, 100);
  }
  await client.setStreamMetadata('truncated', { truncateBefore: 3 });
  await client.tombstoneStream('tombstoned');
  await client.deleteStream('soft-deleted');
  await client.appendToStream('soft-deleted', jsonEvent({ type: 'Noted', data: { after: 'delete' } }));
  await client.setStreamMetadata('aged', { maxAge: 1 });
}
