// What a user should receive, worked out from the store alone: every AlertTriggered of the user's
// alerts, in firing order (the causing trade's `$all` position, then the alert's creation position).
import { causeOf } from '../../src/domain/alerts.ts';
import { positionOrder } from '../../src/domain/position.ts';
import { readAll, START, type StoreClient } from '../../src/eventstore/store.ts';

export interface ExpectedTrigger {
  alertId: string;
  tradeId: string;
  value: string;
}

export async function triggersInFiringOrder(client: StoreClient, userId: string): Promise<ExpectedTrigger[]> {
  const created = new Map<string, bigint>();
  const fired: { alertId: string; tradeId: string; value: string; cause: bigint }[] = [];
  for await (const event of readAll(client, { fromPosition: START })) {
    if (!event.isJson) continue;
    const data = event.data as {
      alertId?: string;
      userId?: string;
      trade?: { tradeId: string };
      value?: string;
    };
    if (data.userId !== userId || !data.alertId) continue;
    if (event.type === 'AlertCreated') created.set(data.alertId, positionOrder(event.position));
    if (event.type === 'AlertTriggered') {
      const cause = causeOf(event.metadata);
      if (cause === undefined) throw new Error(`trigger in ${event.streamId} has no tradePosition`);
      fired.push({ alertId: data.alertId, tradeId: data.trade!.tradeId, value: data.value!, cause });
    }
  }
  const createdAt = (alertId: string): bigint => {
    const position = created.get(alertId);
    if (position === undefined) throw new Error(`no AlertCreated for ${alertId}`);
    return position;
  };
  fired.sort((a, b) =>
    a.cause !== b.cause
      ? a.cause < b.cause
        ? -1
        : 1
      : createdAt(a.alertId) < createdAt(b.alertId)
        ? -1
        : createdAt(a.alertId) > createdAt(b.alertId)
          ? 1
          : 0,
  );
  return fired.map(({ alertId, tradeId, value }) => ({ alertId, tradeId, value }));
}
