// A restart where a settled trade's change sits in `$all` after a later, unsettled trade: appends are
// pipelined, so trade N's AlertRearmed can land after trade N+1, and the checkpoint can cover N while
// N+1's trigger was never written (the reactor was killed first). The store state is built by hand in
// exactly that order, then a reactor starts on it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cancelAlert, createAlert } from '../../src/domain/alerts.ts';
import type { AlertCreated } from '../../src/domain/events.ts';
import { formatPosition, orderPosition, positionOrder } from '../../src/domain/position.ts';
import { formatMicros } from '../../src/domain/time.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { alertStream } from '../../src/domain/types.ts';
import { createLogger } from '../../src/logger.ts';
import { writeCheckpoint } from '../../src/runtime/checkpoint.ts';
import { startReactor, type Reactor } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { changesOf, expectedChanges, lastPosition, WINDOWS } from './helpers.ts';
import { appendToStream, readAll, type StoreClient } from '../../src/eventstore/store.ts';

const logger = createLogger(process.env.TEST_LOG ?? 'silent');
const config = { PRICEALERT_WINDOWS: WINDOWS };
const products = ['BTC-USD'];
const NOW = '2026-11-26T08:00:00.000000Z';
const T0 = Date.UTC(2026, 10, 26, 9) * 1000;

const trade = (index: number, price: string): TradeInput => ({
  product: 'BTC-USD',
  tradeId: `t${index}`,
  price,
  size: '1',
  side: 'buy',
  time: formatMicros(T0 + index * 1_000_000),
  source: 'test',
});

/** `$all` order of a recorded trade. */
async function positionOf(client: StoreClient, tradeId: string): Promise<bigint> {
  let found: bigint | undefined;
  for await (const event of readAll(client)) {
    if (event.type === 'TradeRecorded' && (event.data as { tradeId?: string }).tradeId === tradeId)
      found = positionOrder(event.position);
  }
  if (found === undefined) throw new Error(`trade ${tradeId} not found`);
  return found;
}

/** Appends a change to the alert's stream as the reactor does: caused by the trade at `cause`. */
async function appendChange(
  client: StoreClient,
  alertId: string,
  event: { type: string; data: Record<string, unknown> },
  cause: bigint,
  expectedRevision: bigint,
): Promise<void> {
  await appendToStream(
    client,
    alertStream(alertId),
    { ...event, metadata: { tradePosition: formatPosition(orderPosition(cause)) } },
    { expectedRevision },
  );
}

describe('reactor restart with a settled change late in $all', () => {
  const stores: TestStore[] = [];
  const reactors: Reactor[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pricealert-settled-order-'));
  afterAll(async () => {
    await Promise.all(reactors.map((reactor) => reactor.stop()));
    await Promise.all(stores.map((store) => store.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const startOn = async (store: TestStore, snapshotPath?: string): Promise<Reactor> => {
    const end = await lastPosition(store.client);
    const reactor = await startReactor({
      client: store.client,
      config,
      logger,
      checkpointEveryMs: 50,
      ...(snapshotPath ? { snapshotPath } : {}),
    });
    reactors.push(reactor);
    await reactor.ready;
    await reactor.caughtUpTo(end);
    return reactor;
  };

  /**
   * A repeat LAST alert below 90 (re-arms above 95): t0 95, t1 85 fires, then — by hand — t2 96
   * (N, re-arms), t3 85 (N+1, fires again), N's AlertRearmed after t3, and a checkpoint covering t2.
   * `late` is what N left in the alert's stream instead: nothing (decided otherwise), or a cancel that
   * beat the re-arm to it.
   */
  const buildStore = async (
    snapshotPath?: string,
    late: 'rearm' | 'cancel' | 'none' = 'rearm',
    next = '85',
  ) => {
    const store = await startTestStore();
    stores.push(store);
    const { state } = await createAlert(
      store.client,
      {
        userId: 'user-1',
        now: NOW,
        alertId: 'gap',
        product: 'BTC-USD',
        direction: 'BELOW',
        threshold: '90',
        measure: 'LAST',
        repeat: true,
        rearmBy: '5',
      },
      { products, windows: WINDOWS },
    );
    const alert: AlertCreated = state.created;
    const tape = [trade(0, '95'), trade(1, '85'), trade(2, '96'), trade(3, next)];

    // The first part by a reactor that runs and stops cleanly (AlertTriggered t1, checkpoint past it).
    const first = await startOn(store, snapshotPath);
    await recordTrades(store.client, tape.slice(0, 2), { products });
    await first.caughtUpTo(await lastPosition(store.client));
    await first.stop();
    expect(await changesOf(store.client, 'gap')).toEqual(['AlertTriggered t1']);

    // Then what a reactor killed -9 leaves: N and N+1 in $all, N's change after N+1, N settled.
    await recordTrades(store.client, tape.slice(2), { products });
    const settled = await positionOf(store.client, 't2');
    if (late === 'cancel') await cancelAlert(store.client, { alertId: 'gap', userId: 'user-1', now: NOW });
    if (late === 'rearm')
      await appendChange(
        store.client,
        'gap',
        {
          type: 'AlertRearmed',
          data: { alertId: 'gap', value: '96', tradeId: 't2', rearmedAt: NOW },
        },
        settled,
        1n,
      );
    await writeCheckpoint(store.client, settled);
    return { store, alert, tape };
  };

  it('given N’s re-arm after N+1 in $all and a checkpoint covering N, when a reactor starts, then it writes the trigger N+1 causes', async () => {
    const { store, alert, tape } = await buildStore();
    const reactor = await startOn(store);
    const expected = expectedChanges([alert], tape).get('gap');
    expect(expected).toEqual(['AlertTriggered t1', 'AlertRearmed t2', 'AlertTriggered t3']);
    expect(await changesOf(store.client, 'gap')).toEqual(expected);
    expect(reactor.views.alert('gap')).toMatchObject({ status: 'ACTIVE', triggerCount: 2, armed: false });
  });

  it('given the same store and a snapshot taken before N, when a reactor restores it, then it writes the trigger N+1 causes', async () => {
    const snapshotPath = join(dir, 'reactor.snapshot');
    const { store, alert, tape } = await buildStore(snapshotPath);
    const reactor = await startOn(store, snapshotPath);
    expect(await changesOf(store.client, 'gap')).toEqual(expectedChanges([alert], tape).get('gap'));
    expect(reactor.views.alert('gap')).toMatchObject({ status: 'ACTIVE', triggerCount: 2, armed: false });
  });

  it('given N settled without the re-arm its reactor would write (decided otherwise), when a reactor starts and N+1 crosses, then it follows the stream', async () => {
    const { store } = await buildStore(undefined, 'none');
    const reactor = await startOn(store);
    // N+1 would fire the alert as re-armed by N: the stream says it is not, so nothing is written.
    expect(await changesOf(store.client, 'gap')).toEqual(['AlertTriggered t1']);
    expect(reactor.views.alert('gap')).toMatchObject({ status: 'ACTIVE', triggerCount: 1, armed: false });
    // The book follows the stream's word from then on: 96 re-arms, 85 fires.
    await recordTrades(store.client, [trade(4, '96'), trade(5, '85')], { products });
    await reactor.caughtUpTo(await lastPosition(store.client));
    expect(await changesOf(store.client, 'gap')).toEqual([
      'AlertTriggered t1',
      'AlertRearmed t4',
      'AlertTriggered t5',
    ]);
  });

  it('given N’s re-arm beaten by a cancel after N+1 in $all, when a reactor starts, then N+1 writes nothing after the cancel', async () => {
    const { store } = await buildStore(undefined, 'cancel');
    const reactor = await startOn(store);
    expect(await changesOf(store.client, 'gap')).toEqual(['AlertTriggered t1', 'AlertCancelled']);
    expect(reactor.views.alert('gap')).toMatchObject({ status: 'CANCELLED', triggerCount: 1 });
  });

  it('given N settled without its re-arm and an N+1 that crosses nothing, when a reactor starts and trades go on, then the checkpoint in $all puts the book back to the stream', async () => {
    const { store } = await buildStore(undefined, 'none', '93');
    const reactor = await startOn(store);
    await recordTrades(store.client, [trade(4, '96'), trade(5, '85')], { products });
    await reactor.caughtUpTo(await lastPosition(store.client));
    expect(await changesOf(store.client, 'gap')).toEqual([
      'AlertTriggered t1',
      'AlertRearmed t4',
      'AlertTriggered t5',
    ]);
  });
});
