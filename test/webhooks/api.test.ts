// The webhook fields of the GraphQL API: validation, ownership, the per-user cap, pause/resume/delete, test pings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, gql } from '../api/harness.ts';
import { startReceiver, verifySignature, type Receiver } from './receiver.ts';
import { CREATE_ALERT, CREATE_WEBHOOK, DELIVERIES, startWebhookSetup, type WebhookSetup } from './setup.ts';

const PAUSE = `mutation ($id: ID!) { pauseWebhook(id: $id) { id status } }`;
const RESUME = `mutation ($id: ID!) { resumeWebhook(id: $id) { id status } }`;
const DELETE = `mutation ($id: ID!) { deleteWebhook(id: $id) }`;
const TEST = `mutation ($id: ID!) { testWebhook(id: $id) { id kind outcome attempts { attempt ok statusCode ms } } }`;
const LIST = `{ webhooks { id url description alertIds status } }`;

describe('without PRICEALERT_WEBHOOK_ALLOW_PRIVATE', () => {
  let setup: WebhookSetup;
  beforeAll(async () => {
    setup = await startWebhookSetup({ PRICEALERT_WEBHOOK_ALLOW_PRIVATE: 'false' });
  });
  afterAll(() => setup?.stop());

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://10.0.0.8/hook',
    'http://192.168.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest',
    'http://[::1]/hook',
    'http://[::ffff:7f00:1]/hook',
  ])('refuses %s as BAD_USER_INPUT on url, and registers nothing', async (url) => {
    const token = await setup.token('ivy');
    const response = await gql(setup.url, CREATE_WEBHOOK, { url }, token);
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0]?.extensions?.field).toBe('url');
    expect(response.errors?.[0]?.message).toMatch(/^url: must not point at a private or internal address/);
    expect((await setup.as('ivy', LIST)).webhooks).toEqual([]);
  });
});

describe('with private targets allowed (local development)', () => {
  let setup: WebhookSetup;
  let receiver: Receiver;
  beforeAll(async () => {
    setup = await startWebhookSetup({ PRICEALERT_WEBHOOKS_PER_USER: '3' });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await setup?.stop();
  });

  const create = async (user: string, variables: Record<string, unknown>) =>
    gql(setup.url, CREATE_WEBHOOK, variables, await setup.token(user));

  it('still refuses metadata addresses, and checks the URL, description and alertIds', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ url: 'http://169.254.169.254/latest' }, 'url', /metadata/],
      [{ url: 'ftp://127.0.0.1/x' }, 'url', /http or https/],
      [{ url: 'hook' }, 'url', /absolute URL/],
      [{ url: `${receiver.origin}/x`, description: 'd'.repeat(281) }, 'description', /at most 280/],
      [{ url: `${receiver.origin}/x`, alertIds: [] }, 'alertIds', /at least one/],
      [{ url: `${receiver.origin}/x`, alertIds: ['no-such-alert'] }, 'alertIds', /not one of your alerts/],
    ];
    for (const [variables, field, message] of cases) {
      const response = await create('jack', variables);
      expect(codes(response), JSON.stringify(variables).slice(0, 80)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors?.[0]?.extensions?.field).toBe(field);
      expect(response.errors?.[0]?.message).toMatch(message);
    }
    const othersAlert = (await setup.as('kate', CREATE_ALERT, { threshold: '100' })).createAlert.id;
    const response = await create('jack', { url: `${receiver.origin}/x`, alertIds: [othersAlert] });
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'alertIds' });
    expect((await setup.as('jack', LIST)).webhooks).toEqual([]);
  });

  it('needs a token', async () => {
    expect(codes(await gql(setup.url, CREATE_WEBHOOK, { url: `${receiver.origin}/x` }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(codes(await gql(setup.url, LIST))).toEqual(['UNAUTHENTICATED']);
  });

  it('lists, pauses, resumes and deletes the caller’s endpoints, shows the secret only once, and hides them from others', async () => {
    const alertId = (await setup.as('liam', CREATE_ALERT, { threshold: '100' })).createAlert.id;
    const created = (
      await create('liam', { url: `${receiver.origin}/liam`, description: 'bot', alertIds: [alertId] })
    ).data!.createWebhook;
    expect(created.webhook).toMatchObject({
      url: `${receiver.origin}/liam`,
      description: 'bot',
      alertIds: [alertId],
      status: 'ACTIVE',
    });
    const id = created.webhook.id as string;
    expect((await setup.as('liam', LIST)).webhooks).toEqual([
      { id, url: `${receiver.origin}/liam`, description: 'bot', alertIds: [alertId], status: 'ACTIVE' },
    ]);
    const introspected = await setup.as('liam', `{ __type(name: "Webhook") { fields { name } } }`);
    expect(introspected.__type.fields.map((field: { name: string }) => field.name)).not.toContain('secret');

    const mia = await setup.token('mia');
    for (const mutation of [PAUSE, RESUME, DELETE, TEST])
      expect(codes(await gql(setup.url, mutation, { id }, mia))).toEqual(['NOT_FOUND']);
    expect(codes(await gql(setup.url, DELIVERIES, { id }, mia))).toEqual(['NOT_FOUND']);
    expect((await gql(setup.url, `query ($id: ID!) { webhook(id: $id) { id } }`, { id }, mia)).data).toEqual({
      webhook: null,
    });
    expect((await setup.as('mia', LIST)).webhooks).toEqual([]);

    expect((await setup.as('liam', PAUSE, { id })).pauseWebhook.status).toBe('PAUSED');
    expect((await setup.as('liam', PAUSE, { id })).pauseWebhook.status).toBe('PAUSED');
    expect((await setup.as('liam', RESUME, { id })).resumeWebhook.status).toBe('ACTIVE');
    expect((await setup.as('liam', DELETE, { id })).deleteWebhook).toBe(id);
    expect((await setup.as('liam', LIST)).webhooks).toEqual([]);
    expect(codes(await gql(setup.url, PAUSE, { id }, await setup.token('liam')))).toEqual(['NOT_FOUND']);
    expect(codes(await gql(setup.url, PAUSE, { id: 'not an id!' }, await setup.token('liam')))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });

  it('caps endpoints per user; a deleted one frees its slot', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      const response = await create('nina', { url: `${receiver.origin}/n${index}` });
      expect(response.errors).toBeUndefined();
      ids.push(response.data!.createWebhook.webhook.id);
    }
    const over = await create('nina', { url: `${receiver.origin}/n3` });
    expect(codes(over)).toEqual(['LIMIT_EXCEEDED']);
    expect(over.errors?.[0]?.message).toBe('at most 3 webhooks per user');
    await setup.as('nina', DELETE, { id: ids[0] });
    expect((await create('nina', { url: `${receiver.origin}/n4` })).errors).toBeUndefined();
    expect((await setup.as('nina', LIST)).webhooks).toHaveLength(3);
  });

  it('concurrent creates do not get past the cap', async () => {
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, index) => create('olga', { url: `${receiver.origin}/o${index}` })),
    );
    expect(responses.filter((response) => !response.errors)).toHaveLength(3);
    expect(responses.filter((response) => codes(response)[0] === 'LIMIT_EXCEEDED')).toHaveLength(3);
  });

  it('testWebhook sends a signed ping now and records it among the deliveries', async () => {
    const created = (await create('paul', { url: `${receiver.origin}/ping` })).data!.createWebhook;
    const before = receiver.received.length;
    const ping = (await setup.as('paul', TEST, { id: created.webhook.id })).testWebhook;
    expect(ping).toMatchObject({
      kind: 'PING',
      outcome: 'DELIVERED',
      attempts: [{ attempt: 1, ok: true, statusCode: 200 }],
    });
    expect(ping.id).toMatch(/^ping_/);
    const request = receiver.received[before]!;
    expect(request.headers['webhook-id']).toBe(ping.id);
    expect(verifySignature(created.secret, request)).toBe(true);
    expect(JSON.parse(request.body)).toMatchObject({
      type: 'webhook.test',
      data: { webhookId: created.webhook.id },
    });
    const deliveries = (await setup.as('paul', DELIVERIES, { id: created.webhook.id })).webhookDeliveries;
    expect(deliveries).toMatchObject([{ id: ping.id, kind: 'PING', outcome: 'DELIVERED' }]);
    const page = await gql(
      setup.url,
      DELIVERIES,
      { id: created.webhook.id, after: 'nope' },
      await setup.token('paul'),
    );
    expect(page.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(
      (await setup.as('paul', DELIVERIES, { id: created.webhook.id, after: ping.id })).webhookDeliveries,
    ).toEqual([]);
  });
});
