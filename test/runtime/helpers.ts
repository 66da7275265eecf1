// Shared by the reactor tests: reading what the reactor wrote, and the expected changes from a replay.
import { applyTrade, createMarket, addAlert } from '../../projections/market.ts';
import type { AlertCreated, TradeRecorded } from '../../src/domain/events.ts';
import { alertStream } from '../../src/domain/types.ts';
import { BACKWARDS, END, readAll, readStream, type StoreClient } from '../../src/eventstore/store.ts';

export const WINDOWS = ['1m', '10m'];

export async function lastPosition(client: StoreClient): Promise<bigint> {
  let position = -1n;
  for await (const event of readAll(client, { direction: BACKWARDS, fromPosition: END, maxCount: 1 }))
    position = event.position.commit;
  return position;
}

/** `type tradeId` lines of an alert's stream after AlertCreated, e.g. `AlertTriggered 17`. */
export async function changesOf(client: StoreClient, alertId: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const event of readStream(client, alertStream(alertId))) {
    if (event.type === 'AlertCreated') continue;
    const data = event.data as { trade?: { tradeId: string }; tradeId?: string };
    lines.push(`${event.type} ${data.trade?.tradeId ?? data.tradeId ?? ''}`.trim());
  }
  return lines;
}

const CHANGE_EVENT = { fire: 'AlertTriggered', rearm: 'AlertRearmed', disarm: 'AlertDisarmed' } as const;

/** What a single, never-interrupted reactor writes for alerts created before the tape. */
export function expectedChanges(
  alerts: readonly AlertCreated[],
  trades: readonly TradeRecorded[],
): Map<string, string[]> {
  const market = createMarket(WINDOWS);
  const expected = new Map(alerts.map((alert) => [alert.alertId, [] as string[]]));
  for (const alert of alerts) addAlert(market, alert);
  for (const trade of trades) {
    for (const change of applyTrade(market, trade)) {
      expected.get(change.alert.alertId)!.push(`${CHANGE_EVENT[change.kind]} ${trade.tradeId}`);
    }
  }
  return expected;
}
