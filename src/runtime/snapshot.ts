// The reactor's snapshot: its projections as of a settled `$all` position, in one file, so that a
// restart folds only what came after instead of the whole history (the `all` window needs every trade
// ever). The file names the store (a random id kept in the store itself) and the event at its position;
// a file that does not match the store it is opened against (another data dir, a wiped store, a test
// store replaying the same trades) is ignored and the projections are rebuilt.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { deserialize, serialize } from 'node:v8';
import {
  jsonEvent,
  NO_STREAM,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type EventStoreDBClient,
} from '@eventstore/db-client';
import type { PricesSnapshot } from '../../projections/averagePrice.ts';
import type { AlertState } from '../domain/alerts.ts';
import { orderPosition } from '../domain/position.ts';

const VERSION = 1;

export interface ReactorSnapshot {
  version: typeof VERSION;
  /** `$all` order (src/domain/position.ts) of the last event folded; every trade up to it is settled. */
  position: bigint;
  /** The store's identity ({@link storeIdentity}) and the id of the event at `position`. */
  storeId: string;
  eventId: string;
  prices: PricesSnapshot;
  alerts: AlertState[];
}

/** Writes atomically: a crash mid-write leaves the previous snapshot. */
export async function saveSnapshot(path: string, snapshot: Omit<ReactorSnapshot, 'version'>): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, serialize({ version: VERSION, ...snapshot }));
  await rename(temporary, path);
}

/** The snapshot at `path` if there is one, readable, and taken of this store; otherwise undefined and why. */
export async function loadSnapshot(
  path: string,
  client: EventStoreDBClient,
): Promise<{ snapshot?: ReactorSnapshot; reason?: string }> {
  let saved: ReactorSnapshot;
  try {
    saved = deserialize(await readFile(path)) as ReactorSnapshot;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { reason: `unreadable: ${(error as Error).message}` };
  }
  if (saved?.version !== VERSION) return { reason: 'written by another version' };
  if (saved.storeId !== (await storeIdentity(client))) return { reason: 'taken of another store' };
  let eventId: string | undefined;
  // Read to the end rather than returning early: an abandoned read can keep the client from disposing.
  for await (const resolved of client.readAll({ fromPosition: orderPosition(saved.position), maxCount: 1 })) {
    eventId ??= resolved.event?.id;
  }
  if (eventId !== saved.eventId) return { reason: 'taken of another store' };
  return { snapshot: saved };
}

const IDENTITY_STREAM = 'pricealert-store-identity';

/** A random id this store keeps for good: the id of the first event of its identity stream, written once. */
export async function storeIdentity(client: EventStoreDBClient): Promise<string> {
  for (let attempt = 0; ; attempt += 1) {
    let id: string | undefined;
    try {
      for await (const resolved of client.readStream(IDENTITY_STREAM, { maxCount: 1 }))
        id ??= resolved.event?.id;
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    if (id) return id;
    try {
      await client.appendToStream(IDENTITY_STREAM, jsonEvent({ type: 'StoreIdentity', data: {} }), {
        expectedRevision: NO_STREAM,
      });
    } catch (error) {
      // Another process wrote it first: read theirs.
      if (!(error instanceof WrongExpectedVersionError) || attempt > 2) throw error;
    }
  }
}
