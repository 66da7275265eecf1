// Shared by the reactor tests: reading what the reactor wrote, and the expected changes from a replay.
import { BACKWARDS, END, StreamNotFoundError, type EventStoreDBClient } from '@eventstore/db-client';
import { applyTrade, createMarket, addAlert } from '../../projections/market.ts';
import type { AlertCreated, TradeRecorded } from '../../src/domain/events.ts';
import { alertStream } from '../../src/domain/types.ts';

export const WINDOWS = ['1m', '10m'];

export async function lastPosition(client: EventStoreDBClient): Promise<bigint> {
  let position = -1n;
  for await (const resolved of client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })) {
    if (resolved.event) position = resolved.event.position.commit;
  }
  return position;
}

/** `type tradeId` lines of an alert's stream after AlertCreated, e.g. `AlertTriggered 17`. */
export async function changesOf(client: EventStoreDBClient, alertId: string): Promise<string[]> {
  const lines: string[] = [];
  try {
    for await (const resolved of client.readStream(alertStream(alertId))) {
      const event = resolved.event;
      if (!event || event.type === 'AlertCreated') continue;
      const data = event.data as { trade?: { tradeId: string }; tradeId?: string };
      lines.push(`${event.type} ${data.trade?.tradeId ?? data.tradeId ?? ''}`.trim());
    }
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
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
