// The reactor's snapshot: its projections as of a settled `$all` position, in one file, so that a
// restart folds only what came after instead of the whole history (the `all` window needs every trade
// ever). The file names the store (a random id kept in the store itself) and the event at its position;
// a file that does not match the store it is opened against (another data dir, a wiped store, a test
// store replaying the same trades) is ignored and the projections are rebuilt.
import { open, readFile, rename } from 'node:fs/promises';
import { deserialize, serialize } from 'node:v8';
import { StoreConflict } from '../eventstore/errors.ts';
import { appendToStream, NO_STREAM, readAll, readStream, type StoreClient } from '../eventstore/store.ts';
import type { PricesSnapshot } from '../../projections/averagePrice.ts';
import type { TriggerLogSnapshot } from '../../projections/triggerLog.ts';
import type { AlertState } from '../domain/alerts.ts';
import { orderPosition } from '../domain/position.ts';

/** 4: `all` keeps its oldest trade (MOVE alerts), alerts their phase for conditions. */
const VERSION = 4;
/**
 * Alerts per serialized record. Serializing 100k alerts at once held the event loop for ~150 ms, and
 * every trigger with it; records of this size take a few ms each, with the loop free between them.
 */
const ALERTS_PER_RECORD = 2_000;
/** Triggers per serialized record, for the same reason. */
const TRIGGERS_PER_RECORD = 5_000;

export interface ReactorSnapshot {
  version: typeof VERSION;
  /** `$all` order (src/domain/position.ts) of the last event folded; every trade up to it is settled. */
  position: bigint;
  /** The store's identity ({@link storeIdentity}) and the id of the event at `position`. */
  storeId: string;
  eventId: string;
  prices: PricesSnapshot;
  alerts: AlertState[];
  triggers: TriggerLogSnapshot;
}

/**
 * Writes atomically: a crash mid-write leaves the previous snapshot. The file is a run of
 * length-prefixed v8 records, the header (everything but the alerts) first, then the alerts in slices,
 * each serialized in its own event-loop turn. The caller hands over a copy taken in one turn (alert
 * states are never mutated, only replaced), so the slices still describe one position.
 */
export async function saveSnapshot(path: string, snapshot: Omit<ReactorSnapshot, 'version'>): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const { alerts, triggers, ...header } = snapshot;
  const triggerSlices = sliceUsers(triggers.users);
  const file = await open(temporary, 'w');
  try {
    await writeRecord(file, {
      version: VERSION,
      ...header,
      alertCount: alerts.length,
      triggerSliceCount: triggerSlices.length,
    });
    for (let start = 0; start < alerts.length; start += ALERTS_PER_RECORD) {
      await writeRecord(file, alerts.slice(start, start + ALERTS_PER_RECORD));
    }
    for (const slice of triggerSlices) await writeRecord(file, slice);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

/** Users' trigger logs in runs of about TRIGGERS_PER_RECORD triggers. */
function sliceUsers(users: TriggerLogSnapshot['users']): TriggerLogSnapshot['users'][] {
  const slices: TriggerLogSnapshot['users'][] = [];
  let slice: TriggerLogSnapshot['users'] = [];
  let size = 0;
  for (const user of users) {
    slice.push(user);
    size += user[1].length + 1;
    if (size >= TRIGGERS_PER_RECORD) {
      slices.push(slice);
      slice = [];
      size = 0;
    }
  }
  if (slice.length > 0) slices.push(slice);
  return slices;
}

async function writeRecord(file: Awaited<ReturnType<typeof open>>, value: unknown): Promise<void> {
  const body = serialize(value);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  await file.write(Buffer.concat([length, body]));
}

/** The records of a snapshot file, in order; throws when the file is cut short. */
function readRecords(buffer: Buffer): unknown[] {
  const records: unknown[] = [];
  for (let offset = 0; offset < buffer.length;) {
    if (offset + 4 > buffer.length) throw new Error('snapshot file is truncated');
    const length = buffer.readUInt32LE(offset);
    if (offset + 4 + length > buffer.length) throw new Error('snapshot file is truncated');
    records.push(deserialize(buffer.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  return records;
}

/** Reassembles a file of this version; `undefined` when it is of another version. */
function parseSnapshot(buffer: Buffer): ReactorSnapshot | undefined {
  const [header, ...records] = readRecords(buffer);
  const head = header as
    | (Omit<ReactorSnapshot, 'alerts' | 'triggers'> & { alertCount: number; triggerSliceCount: number })
    | undefined;
  if (head?.version !== VERSION) return undefined;
  const triggerSlices = records.splice(records.length - head.triggerSliceCount);
  const alerts = (records as AlertState[][]).flat();
  if (alerts.length !== head.alertCount || triggerSlices.length !== head.triggerSliceCount)
    throw new Error('snapshot file is incomplete');
  const { alertCount: _alerts, triggerSliceCount: _triggers, ...rest } = head;
  return { ...rest, alerts, triggers: { users: (triggerSlices as TriggerLogSnapshot['users'][]).flat() } };
}

/** The snapshot at `path` if there is one, readable, and taken of this store; otherwise undefined and why. */
export async function loadSnapshot(
  path: string,
  client: StoreClient,
): Promise<{ snapshot?: ReactorSnapshot; reason?: string }> {
  let saved: ReactorSnapshot | undefined;
  try {
    saved = parseSnapshot(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { reason: `unreadable: ${(error as Error).message}` };
  }
  if (!saved) return { reason: 'written by another version' };
  if (saved.storeId !== (await storeIdentity(client))) return { reason: 'taken of another store' };
  let eventId: string | undefined;
  for await (const event of readAll(client, { fromPosition: orderPosition(saved.position), maxCount: 1 }))
    eventId = event.id;
  if (eventId !== saved.eventId) return { reason: 'taken of another store' };
  return { snapshot: saved };
}

const IDENTITY_STREAM = 'pricealert-store-identity';

/** A random id this store keeps for good: the id of the first event of its identity stream, written once. */
export async function storeIdentity(client: StoreClient): Promise<string> {
  for (let attempt = 0; ; attempt += 1) {
    for await (const event of readStream(client, IDENTITY_STREAM, { maxCount: 1 })) return event.id;
    try {
      await appendToStream(
        client,
        IDENTITY_STREAM,
        { type: 'StoreIdentity', data: {} },
        { expectedRevision: NO_STREAM },
      );
    } catch (error) {
      // Another process wrote it first: read theirs.
      if (!(error instanceof StoreConflict) || attempt > 2) throw error;
    }
  }
}
