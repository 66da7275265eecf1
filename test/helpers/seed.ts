// Alerts written straight into the store, many at once: a large store to start a server against.
import { alertStream } from '../../src/domain/types.ts';
import { appendToStream, NO_STREAM, type StoreClient } from '../../src/eventstore/store.ts';

/** Appends `count` ACTIVE alerts (AlertCreated, LAST ABOVE a high threshold) of `userId`, `inFlight` at a time. */
export async function seedAlerts(
  client: StoreClient,
  userId: string,
  count: number,
  inFlight = 64,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < count; index = next++) {
      const alertId = `${userId}-seed-${index}`;
      await appendToStream(
        client,
        alertStream(alertId),
        {
          type: 'AlertCreated',
          data: {
            alertId,
            userId,
            product: 'BTC-USD',
            direction: 'ABOVE',
            threshold: String(1_000_000 + index),
            measure: 'LAST',
            window: '10m',
            repeat: false,
            rearmBy: '0',
            createdAt: '2026-11-26T08:00:00.000000Z',
          },
        },
        { expectedRevision: NO_STREAM },
      );
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}
