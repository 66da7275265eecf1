// Webhook delivery against local receivers: signed triggers, retries until delivered and no further,
// endpoints that do not wait for each other, competing workers, disabling after the retry period.
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../api/harness.ts';
import { startReceiver, verifySignature, type Receiver } from './receiver.ts';
import { readStream } from '../../src/eventstore/store.ts';
import { webhookStream } from '../../src/domain/webhooks.ts';
import { SHARDS, shardOf, type WebhookWorker } from '../../src/webhooks/worker.ts';
import { CREATE_ALERT, CREATE_WEBHOOK, DELIVERIES, startWebhookSetup, type WebhookSetup } from './setup.ts';

let setup: WebhookSetup | undefined;
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  await setup?.stop();
  setup = undefined;
});

const receiver = async (...args: Parameters<typeof startReceiver>): Promise<Receiver> => {
  const started = await startReceiver(...args);
  receivers.push(started);
  return started;
};

async function register(user: string, url: string, alertIds?: string[]) {
  const data = await setup!.as(user, CREATE_WEBHOOK, { url, description: 'test', alertIds });
  return data.createWebhook as { secret: string; webhook: { id: string; status: string } };
}

/** Resolves once each of two workers leads half the shards. */
const halves = (workers: WebhookWorker[]) =>
  eventually(
    () => (workers.every((worker) => worker.shards().length === SHARDS / 2) ? true : undefined),
    20_000,
  );

/** `worker-<i>`, the worker leading the endpoint's shard. */
const leaderOf = (workers: WebhookWorker[], webhookId: string): string =>
  `worker-${workers.findIndex((worker) => worker.shards().includes(shardOf(webhookId)))}`;

const users = (endpoints: { user: string }[]): string[] => [...new Set(endpoints.map(({ user }) => user))];

/** Registers endpoints (up to 10 a user, for two users) until both workers lead the shard of one. */
async function endpointsOfBoth(workers: WebhookWorker[], target: Receiver) {
  const endpoints: { user: string; id: string }[] = [];
  for (const user of ['gina', 'hal'])
    for (let index = 0; index < 10; index += 1) {
      const { webhook } = await register(user, `${target.origin}/${user}/${index}`);
      endpoints.push({ user, id: webhook.id });
      const leaders = new Set(endpoints.map(({ id }) => leaderOf(workers, id)));
      if (leaders.has('worker-0') && leaders.has('worker-1')) return endpoints;
    }
  throw new Error('no endpoint fell in a shard of each worker');
}

/** Which worker made each recorded attempt at the endpoint, in order. */
async function attemptWorkers(webhookId: string): Promise<string[]> {
  const workers: string[] = [];
  for await (const event of readStream(setup!.store.client, webhookStream(webhookId)))
    if (event.type === 'WebhookDeliveryStarted') workers.push((event.data as { worker: string }).worker);
  return workers;
}

describe('delivery', { timeout: 60_000 }, () => {
  it('POSTs each trigger once, signed so that an independent Standard Webhooks check verifies it, with the AlertTrigger fields and the cursor as its id', async () => {
    setup = await startWebhookSetup();
    const target = await receiver();
    const { secret, webhook } = await register('alice', `${target.origin}/hooks/alice`);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const alertId = (await setup.as('alice', CREATE_ALERT, { threshold: '100' })).createAlert.id as string;
    await setup.trade('120');
    await setup.trade('90');
    await setup.trade('130');
    const [first, second] = await target.waitFor(2);
    for (const request of [first!, second!]) {
      expect(verifySignature(secret, request)).toBe(true);
      expect(verifySignature(secret, { ...request, body: request.body.replace('alert', 'alerts') })).toBe(
        false,
      );
      expect(request.headers['content-type']).toBe('application/json');
      expect(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    }
    const { triggers } = await setup.as('alice', '{ triggers { cursor value trade { price } } }');
    const bodies = [first!, second!].map((request) => JSON.parse(request.body));
    expect(bodies.map((body) => body.data.cursor)).toEqual(
      triggers.map((trigger: { cursor: string }) => trigger.cursor),
    );
    expect([first!, second!].map((request) => request.headers['webhook-id'])).toEqual(
      triggers.map((trigger: { cursor: string }) => trigger.cursor),
    );
    expect(bodies[1]).toMatchObject({
      type: 'alert.triggered',
      data: {
        alert: {
          id: alertId,
          product: 'BTC-USD',
          direction: 'ABOVE',
          threshold: '100',
          measure: 'LAST',
          repeat: true,
          triggerCount: 2,
        },
        value: '130',
        trade: { product: 'BTC-USD', price: '130', size: '1', side: 'buy' },
      },
    });
    expect(bodies[1].data.alert.userId).toBeUndefined();
    const deliveries = (await setup.as('alice', DELIVERIES, { id: webhook.id })).webhookDeliveries;
    expect(
      deliveries.map((delivery: { id: string; outcome: string }) => [delivery.id, delivery.outcome]),
    ).toEqual(triggers.map((trigger: { cursor: string }) => [trigger.cursor, 'DELIVERED']));
    expect(deliveries[0].attempts).toMatchObject([{ attempt: 1, ok: true, statusCode: 200 }]);
  });

  it('retries a receiver that fails 3 times, then delivers once more and stops', async () => {
    setup = await startWebhookSetup();
    let calls = 0;
    const target = await receiver(() => (++calls <= 3 ? 500 : 200));
    const { webhook } = await register('bob', `${target.origin}/flaky`);
    await setup.as('bob', CREATE_ALERT, { threshold: '100' });
    await setup.trade('150');
    await target.waitFor(4);
    const delivery = await eventually(async () => {
      const [found] = (await setup!.as('bob', DELIVERIES, { id: webhook.id })).webhookDeliveries;
      return found?.outcome === 'DELIVERED' ? found : undefined;
    });
    expect(
      delivery.attempts.map((attempt: { ok: boolean; statusCode: number }) => [
        attempt.ok,
        attempt.statusCode,
      ]),
    ).toEqual([
      [false, 500],
      [false, 500],
      [false, 500],
      [true, 200],
    ]);
    expect(delivery.attempts[0].error).toBe('HTTP 500');
    // Every attempt carried the same id, so a receiver can drop repeats.
    expect(new Set(target.received.map((request) => request.headers['webhook-id'])).size).toBe(1);
    // Well past several retry periods (20 ms … 200 ms), nothing more arrives once success is recorded.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(target.received).toHaveLength(4);
    const [again] = (await setup.as('bob', DELIVERIES, { id: webhook.id })).webhookDeliveries;
    expect(again.attempts).toHaveLength(4);
  });

  it('a hanging receiver does not hold up another endpoint', async () => {
    setup = await startWebhookSetup({ PRICEALERT_WEBHOOK_TIMEOUT: '30s' });
    const stuck = await receiver(() => 'hang');
    const healthy = await receiver();
    await register('carol', `${stuck.origin}/stuck`);
    await register('carol', `${healthy.origin}/fine`);
    await setup.as('carol', CREATE_ALERT, { threshold: '100' });
    await setup.trade('120');
    await setup.trade('90');
    await setup.trade('120');
    await healthy.waitFor(2);
    // Both triggers reached the healthy endpoint while the stuck one still holds its first request.
    expect(stuck.hanging).toBe(1);
    expect(stuck.received).toHaveLength(1);
  });

  it('treats a redirect as a failed attempt and does not follow it', async () => {
    setup = await startWebhookSetup({ PRICEALERT_WEBHOOK_RETRY: '10s,10s,24h' });
    const elsewhere = await receiver();
    const redirecting = await receiver(() => ({
      status: 307,
      headers: { location: `${elsewhere.origin}/x` },
    }));
    const { webhook } = await register('dave', `${redirecting.origin}/hook`);
    await setup.as('dave', CREATE_ALERT, { threshold: '100' });
    await setup.trade('120');
    const delivery = await eventually(async () => {
      const [found] = (await setup!.as('dave', DELIVERIES, { id: webhook.id })).webhookDeliveries;
      return found?.attempts[0]?.ok === false ? found : undefined;
    });
    expect(delivery).toMatchObject({
      outcome: 'PENDING',
      attempts: [{ statusCode: 307, error: 'redirect not followed' }],
    });
    expect(delivery.nextAttemptAt).not.toBeNull();
    expect(elsewhere.received).toHaveLength(0);
  });

  it('only sends the alerts an endpoint is limited to, and only its owner’s', async () => {
    setup = await startWebhookSetup();
    const target = await receiver();
    const chosen = (await setup.as('erin', CREATE_ALERT, { threshold: '100' })).createAlert.id as string;
    await setup.as('erin', CREATE_ALERT, { threshold: '110' });
    await setup.as('frank', CREATE_ALERT, { threshold: '100' });
    await register('erin', `${target.origin}/only`, [chosen]);
    await setup.trade('120');
    await target.waitFor(1);
    await setup.trade('90');
    await setup.trade('105');
    await target.waitFor(2);
    const alertIds = target.received.map((request) => JSON.parse(request.body).data.alert.id);
    expect(alertIds).toEqual([chosen, chosen]);
  });

  it('two workers split the shards and deliver every trigger exactly once between them', async () => {
    setup = await startWebhookSetup({}, { workers: 2 });
    await halves(setup.workers);
    const target = await receiver();
    const endpoints = await endpointsOfBoth(setup.workers, target);
    for (const user of users(endpoints))
      for (let index = 0; index < 3; index += 1)
        await setup.as(user, CREATE_ALERT, { threshold: String(100 + index) });
    for (let round = 0; round < 3; round += 1) {
      await setup.trade('120');
      await setup.trade('90');
    }
    // 3 rounds × 3 alerts × each endpoint.
    const expected = 9 * endpoints.length;
    await target.waitFor(expected);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const keys = target.received.map((request) => `${request.path} ${String(request.headers['webhook-id'])}`);
    expect(keys).toHaveLength(expected);
    expect(new Set(keys).size).toBe(expected);
    // Each endpoint's attempts were made by the worker leading its shard, and both had some.
    const by = await Promise.all(endpoints.map(({ id }) => attemptWorkers(id)));
    for (const [index, { id }] of endpoints.entries())
      expect(new Set(by[index])).toEqual(new Set([leaderOf(setup.workers, id)]));
    expect(new Set(by.flat())).toEqual(new Set(['worker-0', 'worker-1']));
  });

  it('a worker that stops hands its shards over: the other delivers the triggers it left outstanding', async () => {
    setup = await startWebhookSetup({ PRICEALERT_WEBHOOK_RETRY: '50ms,200ms,24h' }, { workers: 2 });
    const [first, second] = setup.workers;
    await halves(setup.workers);
    let failing = true;
    const answered = new Map<string, number>();
    const target = await receiver((request) => {
      if (failing) return 503;
      const key = `${request.path} ${String(request.headers['webhook-id'])}`;
      answered.set(key, (answered.get(key) ?? 0) + 1);
      return 200;
    });
    const endpoints = await endpointsOfBoth(setup.workers, target);
    const left = endpoints.filter(({ id }) => leaderOf(setup!.workers, id) === 'worker-0');
    for (const user of users(endpoints))
      for (let index = 0; index < 2; index += 1)
        await setup.as(user, CREATE_ALERT, { threshold: String(100 + index) });
    await setup.trade('120');
    // 2 alerts × each endpoint, every one failing for now.
    const expected = 2 * endpoints.length;
    await eventually(() => {
      const keys = new Set(
        target.received.map((request) => `${request.path} ${String(request.headers['webhook-id'])}`),
      );
      return keys.size === expected ? true : undefined;
    });
    await first!.stop();
    await eventually(() => (second!.shards().length === SHARDS ? true : undefined), 20_000);
    failing = false;
    await eventually(() => (answered.size === expected ? true : undefined), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([...answered.values()].every((count) => count === 1)).toBe(true);
    // What the stopped worker had begun, the other finished.
    for (const { id } of left) {
      const workers = await attemptWorkers(id);
      expect(workers[0]).toBe('worker-0');
      expect(workers.at(-1)).toBe('worker-1');
    }
  });

  it('disables an endpoint whose deliveries fail for the whole retry period, and resumes it on request', async () => {
    setup = await startWebhookSetup({ PRICEALERT_WEBHOOK_RETRY: '20ms,50ms,400ms' });
    let failing = true;
    const target = await receiver(() => (failing ? 503 : 200));
    const { webhook } = await register('hank', `${target.origin}/down`);
    await setup.as('hank', CREATE_ALERT, { threshold: '100' });
    await setup.trade('120');
    const disabled = await eventually(async () => {
      const found = (await setup!.as('hank', `{ webhooks { id status failingSince disabledAt } }`))
        .webhooks[0];
      return found?.status === 'DISABLED' ? found : undefined;
    });
    expect(disabled.failingSince).not.toBeNull();
    expect(disabled.disabledAt).not.toBeNull();
    const [gaveUp] = (await setup.as('hank', DELIVERIES, { id: webhook.id })).webhookDeliveries;
    expect(gaveUp.outcome).toBe('FAILED');
    const attemptsWhenDisabled = target.received.length;
    // A trigger while disabled waits; resuming delivers it.
    await setup.trade('90');
    await setup.trade('120');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(target.received).toHaveLength(attemptsWhenDisabled);
    failing = false;
    const resumed = await setup.as(
      'hank',
      `mutation ($id: ID!) { resumeWebhook(id: $id) { status failingSince } }`,
      {
        id: webhook.id,
      },
    );
    expect(resumed.resumeWebhook).toEqual({ status: 'ACTIVE', failingSince: null });
    await target.waitFor(attemptsWhenDisabled + 1);
    const deliveries = await eventually(async () => {
      const list = (await setup!.as('hank', DELIVERIES, { id: webhook.id })).webhookDeliveries;
      return list[1]?.outcome === 'DELIVERED' ? list : undefined;
    });
    expect(deliveries.map((delivery: { outcome: string }) => delivery.outcome)).toEqual([
      'FAILED',
      'DELIVERED',
    ]);
  });
});
