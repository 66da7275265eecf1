// Webhooks: trigger appended → webhook received at a local receiver, p50/p99, with 1,000 endpoints (one
// per user) of which 10 never answer, while triggers for random users flow at a steady rate. Beside it,
// the floors measured in the same run: a plain keep-alive POST round trip to the same receiver, and
// append → catch-up subscription delivery on the same node (a delivery needs one subscription hop and
// one POST before the receiver has it; its record is appended after).
import { randomUUID } from 'node:crypto';
import { request as httpRequest, Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.ts';
import { createWebhook } from '../src/domain/webhooks.ts';
import { appendToStream, START, subscribeToAll, type StoreClient } from '../src/eventstore/store.ts';
import { createLogger } from '../src/logger.ts';
import { startWebhookWorker } from '../src/webhooks/worker.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { startReceiver } from '../test/webhooks/receiver.ts';
import { QUICK, fmt, report, summarize } from './stats.ts';

const ENDPOINTS = 1_000;
const HANGING = 10;
const TRIGGERS = QUICK ? 300 : 3_000;
/** Triggers per second; WEBHOOK_BENCH_RATE changes it. */
const PER_SECOND = Number(process.env.WEBHOOK_BENCH_RATE ?? 100);
const FLOOR_SAMPLES = QUICK ? 200 : 1_000;

const store = await startTestStore();
const { client } = store;
const receiver = await startReceiver((request) => (request.path.startsWith('/hang/') ? 'hang' : 200));
const logger = createLogger('warn');
const config = loadConfig({
  PRICEALERT_DATA_DIR: store.dataDir,
  PRICEALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
  LOG_LEVEL: 'warn',
});

const pctl = (samples: number[]): string => {
  const { p50, p99 } = summarize(samples);
  return `p50 ${fmt(p50)} ms  p99 ${fmt(p99)} ms`;
};

/** Plain POSTs to the receiver over a keep-alive connection, one after another. */
async function postFloor(): Promise<number[]> {
  const agent = new Agent({ keepAlive: true });
  const samples: number[] = [];
  for (let index = 0; index < FLOOR_SAMPLES; index += 1) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest(`${receiver.origin}/floor`, { method: 'POST', agent }, (response) => {
        response.resume();
        response.once('end', resolve);
      });
      request.once('error', reject);
      request.end('{"type":"floor"}');
    });
    samples.push(performance.now() - started);
  }
  agent.destroy();
  return samples;
}

/**
 * Append → the event arriving on a filtered catch-up subscription of `$all`: one at a time without a
 * rate, else paced at `perSecond` appends to distinct streams, overlapping as they come.
 */
async function subscriptionFloor(store: StoreClient, perSecond?: number): Promise<number[]> {
  const samples: number[] = [];
  const subscription = subscribeToAll(store, { fromPosition: START, eventTypePrefixes: ['FloorProbe'] });
  const waiting = new Map<string, { started: number; arrived: () => void }>();
  const seeing = (async () => {
    for await (const event of subscription) {
      const probe = waiting.get(event.id);
      if (probe === undefined) continue;
      samples.push(performance.now() - probe.started);
      probe.arrived();
    }
  })();
  const begin = performance.now();
  const pending: Promise<void>[] = [];
  for (let index = 0; index < FLOOR_SAMPLES; index += 1) {
    if (perSecond !== undefined) {
      const wait = begin + (index * 1000) / perSecond - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const id = randomUUID();
    const done = new Promise<void>((arrived) => waiting.set(id, { started: performance.now(), arrived }));
    const appended = appendToStream(store, `floor-probe-${index % 1000}`, {
      id,
      type: 'FloorProbe',
      data: { index },
    });
    const probe = appended.then(() => done);
    if (perSecond === undefined) await probe;
    else pending.push(probe);
  }
  await Promise.all(pending);
  await subscription.unsubscribe();
  await seeing;
  return samples;
}

const alertOf = (user: number) => ({
  alertId: `bench-${user}`,
  userId: `user-${user}`,
  product: 'BTC-USD',
  direction: 'ABOVE',
  threshold: '100',
  measure: 'LAST',
  window: '10m',
});

process.stdout.write(`setting up ${ENDPOINTS} endpoints (${HANGING} hang) …\n`);
for (let user = 0; user < ENDPOINTS; user += 1) {
  const path = user < HANGING ? `/hang/${user}` : `/ok/${user}`;
  await createWebhook(
    client,
    {
      webhookId: randomUUID(),
      userId: `user-${user}`,
      url: `${receiver.origin}${path}`,
      description: '',
      now: new Date().toISOString(),
    },
    { maxPerUser: 10, checkUrl: async () => undefined, ownsAlert: async () => true },
  );
  await appendToStream(client, `alert-bench-${user}`, {
    type: 'AlertCreated',
    data: { ...alertOf(user), repeat: true, rearmBy: '0', createdAt: new Date().toISOString() },
  });
}

const worker = startWebhookWorker({ client, config, logger });
await worker.ready;

const sentAt = new Map<string, number>();

const healthy: number[] = [];
let hangingTriggers = 0;
receiver.answer = (request) => {
  if (request.path.startsWith('/hang/')) return 'hang';
  if (request.path === '/floor') return 200;
  const tradeId = (JSON.parse(request.body) as { data: { trade: { tradeId: string } } }).data.trade.tradeId;
  const started = sentAt.get(tradeId);
  if (started !== undefined) {
    healthy.push(request.at - started);
    sentAt.delete(tradeId);
  }
  return 200;
};

process.stdout.write(`${TRIGGERS} triggers at ${PER_SECOND}/s for random users …\n`);
const begin = performance.now();
const appends: Promise<unknown>[] = [];
for (let index = 0; index < TRIGGERS; index += 1) {
  const due = begin + (index * 1000) / PER_SECOND;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  // Every 100th trigger goes to a hanging endpoint; the rest to healthy ones.
  const user =
    index % 100 === 0 ? (index / 100) % HANGING : HANGING + Math.floor(Math.random() * (ENDPOINTS - HANGING));
  if (user < HANGING) hangingTriggers += 1;
  const tradeId = `t${index}`;
  const now = new Date().toISOString();
  if (user >= HANGING) sentAt.set(tradeId, performance.now());
  appends.push(
    appendToStream(client, `alert-bench-${user}`, {
      type: 'AlertTriggered',
      data: {
        ...alertOf(user),
        value: '120',
        trade: { tradeId, price: '120', size: '1', side: 'buy', time: now },
        triggeredAt: now,
      },
    }),
  );
}
await Promise.all(appends);
const deadline = performance.now() + 30_000;
while (sentAt.size > 0 && performance.now() < deadline)
  await new Promise((resolve) => setTimeout(resolve, 50));

report('healthy endpoints: trigger appended → webhook received', pctl(healthy), 'p99 ≤ 20 ms');
report('  delivered / sent to healthy endpoints', `${healthy.length} / ${healthy.length + sentAt.size}`);
report('  triggers to the 10 hanging endpoints (5 s timeout each)', String(hangingTriggers));
await worker.stop();
report('floor: plain keep-alive POST round trip to the receiver', pctl(await postFloor()));
report('floor: append → filtered $all subscription, same node', pctl(await subscriptionFloor(client)));
// A delivery makes one append besides its trigger: the store's own latency at that combined rate.
report(
  `floor: the same at ${PER_SECOND * 2} appends/s (2 per trigger)`,
  pctl(await subscriptionFloor(client, PER_SECOND * 2)),
);
await receiver.close();
await store.stop();
