// The reactor's checkpoint: the `$all` position up to which every trade's alert changes are settled,
// kept in the store itself (one event, `$maxCount` 1) so it lives and dies with the data it describes.
import {
  appendToStream,
  lastEvent,
  readStreamMetadata,
  writeStreamMetadata,
  type StoreClient,
} from '../eventstore/store.ts';
import { formatPosition, orderPosition, parsePosition, positionOrder } from '../domain/position.ts';

export const CHECKPOINT_STREAM = 'pricealert-reactor-checkpoint';
export const CHECKPOINT_EVENT = 'ReactorCheckpoint';

/** The position a checkpoint event's data names, as an order; `undefined` when it names none. */
export function checkpointOf(data: unknown): bigint | undefined {
  const parsed = parsePosition((data as { position?: unknown } | undefined)?.position);
  return parsed && positionOrder(parsed);
}

/** The settled position as an order (see src/domain/position.ts). */
export async function readCheckpoint(
  client: StoreClient,
  stream = CHECKPOINT_STREAM,
): Promise<bigint | undefined> {
  return checkpointOf((await lastEvent(client, stream))?.data);
}

/** Makes the checkpoint stream keep only its newest event. */
export async function prepareCheckpointStream(
  client: StoreClient,
  stream = CHECKPOINT_STREAM,
): Promise<void> {
  const metadata = await readStreamMetadata(client, stream);
  if (metadata?.maxCount !== 1) await writeStreamMetadata(client, stream, { ...metadata, maxCount: 1 });
}

/**
 * Any number of reactors may share the checkpoint: each writes only positions whose trades it has
 * settled, and a settled trade is settled for everyone (its changes are in the alert streams).
 */
export async function writeCheckpoint(
  client: StoreClient,
  position: bigint,
  stream = CHECKPOINT_STREAM,
): Promise<void> {
  await appendToStream(client, stream, {
    type: CHECKPOINT_EVENT,
    data: { position: formatPosition(orderPosition(position)) },
  });
}
