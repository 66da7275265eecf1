// The reactor's checkpoint: the `$all` position up to which every trade's alert changes are settled,
// kept in the store itself (one event, `$maxCount` 1) so it lives and dies with the data it describes.
import {
  BACKWARDS,
  END,
  jsonEvent,
  StreamNotFoundError,
  type EventStoreDBClient,
} from '@eventstore/db-client';
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
  client: EventStoreDBClient,
  stream = CHECKPOINT_STREAM,
): Promise<bigint | undefined> {
  let position: bigint | undefined;
  try {
    for await (const resolved of client.readStream(stream, {
      direction: BACKWARDS,
      fromRevision: END,
      maxCount: 1,
    })) {
      position = checkpointOf(resolved.event?.data) ?? position;
    }
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
  }
  return position;
}

/** Makes the checkpoint stream keep only its newest event. */
export async function prepareCheckpointStream(
  client: EventStoreDBClient,
  stream = CHECKPOINT_STREAM,
): Promise<void> {
  const { metadata } = await client.getStreamMetadata(stream);
  if (metadata?.maxCount !== 1) await client.setStreamMetadata(stream, { ...metadata, maxCount: 1 });
}

/**
 * Any number of reactors may share the checkpoint: each writes only positions whose trades it has
 * settled, and a settled trade is settled for everyone (its changes are in the alert streams).
 */
export async function writeCheckpoint(
  client: EventStoreDBClient,
  position: bigint,
  stream = CHECKPOINT_STREAM,
): Promise<void> {
  await client.appendToStream(
    stream,
    jsonEvent({ type: CHECKPOINT_EVENT, data: { position: formatPosition(orderPosition(position)) } }),
  );
}
