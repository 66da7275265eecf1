// GET /metrics as Prometheus scrapes it: counters that move by what happened, gauges that follow the
// connections, bounded labels (never a user id), and the feed's counters with `serve`'s wiring.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import { startFeed, type FeedStats, type RunningFeed } from '../../src/feeds/index.ts';
import { createLogger } from '../../src/logger.ts';
import { startFakeCoinbase, tape, type FakeCoinbase } from '../feeds/fakeCoinbase.ts';
import {
  codes,
  connect,
  eventually,
  gql,
  settled,
  startHarness,
  subscribe,
  type Harness,
} from './harness.ts';
import { recordPrices } from './trades.ts';

const CREATE = `mutation($input: CreateAlertInput!) { createAlert(input: $input) { id } }`;
const TRIGGERED = `subscription { alertTriggered { alert { id } value } }`;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, strictly: a line that is neither a comment nor a sample fails the test. */
function parseMetrics(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)",?/g)].map((label) => [
          label[1]!,
          label[2]!,
        ]),
      );
      const text = match[3]!;
      const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
      return { name: match[1]!, labels, value };
    });
}

/** The sum of the samples of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter(
      (sample) =>
        sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

async function scrape(
  harness: Harness,
): Promise<{ contentType: string | null; text: string; samples: Sample[] }> {
  const response = await fetch(new URL('/metrics', harness.url));
  expect(response.status).toBe(200);
  const text = await response.text();
  return { contentType: response.headers.get('content-type'), text, samples: parseMetrics(text) };
}

/** The labels pricealert's own metrics may carry: each has a handful of values. */
const BOUNDED_LABELS = new Set([
  'product',
  'source',
  'outcome',
  'stream',
  'reason',
  'transport',
  'code',
  'le',
]);

describe('GET /metrics', () => {
  let harness: Harness;
  const USER = 'metrics-user-5d1c';
  const FEEDER = 'metrics-feeder-9a2e';
  let user: string;
  let feeder: string;

  beforeAll(async () => {
    // Two mutations per user, then RATE_LIMITED for a long while.
    harness = await startHarness({ userMutationsPerSecond: 0.001, userMutationBurst: 2 });
    [user, feeder] = await Promise.all([harness.token(USER), harness.token(FEEDER, 'feeder')]);
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it('counts the trades, the trigger delivered, the appends and the WebSocket, and names no user', async () => {
    const before = (await scrape(harness)).samples;
    const created = await gql(
      harness.url,
      CREATE,
      { input: { product: 'BTC-USD', direction: 'ABOVE', threshold: '150' } },
      user,
    );
    expect(created.errors).toBeUndefined();
    const alertId = created.data!.createAlert.id as string;

    const socket = connect(harness.wsUrl, user);
    const triggers = subscribe(socket.client, TRIGGERED);
    await settled(socket.client);
    const connected = (await scrape(harness)).samples;
    expect(total(connected, 'pricealert_ws_connections')).toBe(1);
    expect(total(connected, 'pricealert_ws_subscriptions')).toBe(1);

    await recordPrices(harness, feeder, ['100', '200']);
    expect((await triggers.next()).alertTriggered).toMatchObject({ alert: { id: alertId } });

    const { text, samples: after } = await scrape(harness);
    const moved = (name: string, labels: Record<string, string> = {}) =>
      total(after, name, labels) - total(before, name, labels);
    expect(moved('pricealert_trades_recorded_total', { product: 'BTC-USD', source: 'api' })).toBe(2);
    expect(moved('pricealert_triggers_delivered_total')).toBe(1);
    expect(moved('pricealert_reactor_alert_changes_written_total')).toBe(1);
    expect(moved('pricealert_reactor_trade_settle_seconds_count')).toBe(1);
    expect(
      moved('pricealert_store_append_duration_seconds_count', { stream: 'trade' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      moved('pricealert_store_append_duration_seconds_count', { stream: 'alert' }),
    ).toBeGreaterThanOrEqual(1);
    expect(moved('pricealert_http_responses_total', { code: '2xx' })).toBeGreaterThanOrEqual(3);
    expect(total(after, 'pricealert_reactor_lag_events')).toBe(0);
    expect(total(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    for (const id of [USER, FEEDER, alertId]) expect(text).not.toContain(id);
    const ownLabels = after
      .filter((sample) => sample.name.startsWith('pricealert_'))
      .flatMap((sample) => Object.keys(sample.labels));
    expect(ownLabels.filter((label) => !BOUNDED_LABELS.has(label))).toEqual([]);

    await socket.dispose();
    await eventually(async () =>
      total((await scrape(harness)).samples, 'pricealert_ws_connections') === 0 ? true : undefined,
    );
  });

  it('tears down a closed socket’s trigger subscriptions at once, with or without a cursor', async () => {
    const other = await harness.token('metrics-user-2');
    const created = await gql(
      harness.url,
      CREATE,
      { input: { product: 'BTC-USD', direction: 'ABOVE', threshold: '150', repeat: true } },
      other,
    );
    expect(created.errors).toBeUndefined();
    const first = connect(harness.wsUrl, other);
    const live = subscribe(first.client, 'subscription { alertTriggered { cursor } }');
    await settled(first.client);
    await recordPrices(harness, feeder, ['100', '200']);
    const { cursor } = (await live.next()).alertTriggered as { cursor: string };
    const second = connect(harness.wsUrl, other);
    subscribe(second.client, 'subscription($after: String) { alertTriggered(after: $after) { cursor } }', {
      after: cursor,
    });
    await settled(second.client);
    await Promise.all([first.dispose(), second.dispose()]);
    await eventually(async () =>
      total((await scrape(harness)).samples, 'pricealert_ws_subscriptions') === 0 ? true : undefined,
    );

    // A trigger after the close reaches no follower: none was left behind by the closed sockets.
    const before = total((await scrape(harness)).samples, 'pricealert_triggers_delivered_total');
    await recordPrices(harness, feeder, ['100', '200']);
    await eventually(async () => {
      const listed = await gql(harness.url, '{ triggers { cursor } }', {}, other);
      return (listed.data?.triggers as unknown[] | undefined)?.length === 2 ? true : undefined;
    });
    expect(total((await scrape(harness)).samples, 'pricealert_triggers_delivered_total')).toBe(before);
  });

  it('counts mutations refused by the rate limit', async () => {
    const other = await harness.token('metrics-user-limited');
    const before = total((await scrape(harness)).samples, 'pricealert_api_rate_limited_total');
    const input = { product: 'ETH-USD', direction: 'BELOW', threshold: '1' };
    const answers = [];
    for (let attempt = 0; attempt < 3; attempt += 1)
      answers.push(await gql(harness.url, CREATE, { input }, other));
    expect(answers.map(codes)).toEqual([[], [], ['RATE_LIMITED']]);
    const { samples, text } = await scrape(harness);
    expect(total(samples, 'pricealert_api_rate_limited_total') - before).toBe(1);
    expect(total(samples, 'pricealert_http_responses_total', { code: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('metrics-user-limited');
  });

  it("answers in Prometheus' text format, version 0.0.4", async () => {
    // scrape() parses every line; a malformed one fails there.
    const { contentType, text } = await scrape(harness);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('# TYPE pricealert_trades_recorded_total counter');
    expect(text).toContain('# TYPE pricealert_store_append_duration_seconds histogram');
    expect(text).toContain('# TYPE pricealert_ws_connections gauge');
    // Only a GET of /metrics: the GraphQL path and /health are untouched.
    const health = await fetch(new URL('/health', harness.url));
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});

describe('feed metrics, wired as serve wires them', () => {
  let harness: Harness;
  let coinbase: FakeCoinbase;
  let feed: RunningFeed | undefined;

  beforeAll(async () => {
    harness = await startHarness();
    coinbase = await startFakeCoinbase();
  });
  afterAll(async () => {
    await feed?.stop();
    await coinbase?.close();
    await harness?.stop();
  });

  it('counts what the Coinbase feed received, recorded, dropped and skipped, and its reconnects', async () => {
    const config = loadConfig({
      PRICEALERT_FEED: 'coinbase',
      COINBASE_WS_URL: coinbase.url,
      PRICEALERT_PRODUCTS: 'BTC-USD',
    });
    // As serve does: the feed appends through the client whose appends are timed.
    const client = harness.metrics.timeAppends(harness.store.client);
    feed = await startFeed({
      config,
      record: (trades) => recordTrades(client, trades, { products: ['BTC-USD'] }),
      logger: createLogger(harness.config.LOG_LEVEL),
    });
    harness.metrics.watchFeed(feed);

    // Ten trades, id 5 never sent (a gap), id 3 sent twice (a re-send), then the connection drops.
    const trades = tape('BTC-USD', 1, 10);
    const first = await coinbase.connection(1);
    for (const trade of [...trades.slice(0, 3), trades[2]!, ...trades.slice(5, 8), trades[3]!])
      first.sendTrade(trade);
    const stats = () => feed!.stats() as Extract<FeedStats, { feed: 'coinbase' }>;
    await eventually(() => (stats().trades === 7 ? true : undefined));
    first.drop();
    const second = await coinbase.connection(2);
    for (const trade of trades.slice(8)) second.sendTrade(trade);
    await eventually(() => (stats().writer.recorded === 9 ? true : undefined));

    const samples = (await scrape(harness)).samples;
    const source = { source: 'coinbase' };
    expect(total(samples, 'pricealert_feed_trades_received_total', source)).toBe(10);
    expect(total(samples, 'pricealert_feed_trades_total', { ...source, outcome: 'recorded' })).toBe(9);
    expect(total(samples, 'pricealert_feed_trades_total', { ...source, outcome: 'duplicate' })).toBe(1);
    expect(total(samples, 'pricealert_feed_trades_total', { ...source, outcome: 'rejected' })).toBe(0);
    expect(total(samples, 'pricealert_feed_trade_id_gaps_total', source)).toBe(1);
    // Id 4 came after 6…8: a late trade that filled part of the gap; id 5 is still missing.
    expect(total(samples, 'pricealert_feed_late_trades_total', source)).toBe(1);
    expect(total(samples, 'pricealert_feed_missed_trades', source)).toBe(1);
    expect(total(samples, 'pricealert_feed_reconnects_total', source)).toBe(1);
    expect(total(samples, 'pricealert_feed_connected', source)).toBe(1);
    // And the reactor saw the same nine trades arrive in the store.
    await eventually(async () =>
      total((await scrape(harness)).samples, 'pricealert_trades_recorded_total', {
        product: 'BTC-USD',
        source: 'coinbase',
      }) === 9
        ? true
        : undefined,
    );

    await feed.stop();
    const stopped = (await scrape(harness)).samples;
    expect(total(stopped, 'pricealert_feed_connected', source)).toBe(0);
  });
});
