// Webhook endpoints: register, list, pause/resume, delete, test, and their delivery record. The
// caller's own only; another user's endpoint is NOT_FOUND. Everything here reads the store itself.
import { randomUUID } from 'node:crypto';
import { readAlert } from '../../domain/alerts.ts';
import { DomainError } from '../../domain/errors.ts';
import { dateToIso } from '../../domain/time.ts';
import {
  changeWebhook,
  checkWebhookId,
  createWebhook,
  listWebhooks,
  ownWebhook,
  PING_PREFIX,
  readDeliveries,
  webhookStream,
  type DeliveryView,
  type WebhookChange,
  type WebhookState,
} from '../../domain/webhooks.ts';
import { ANY, appendToStream } from '../../eventstore/store.ts';
import { createSender } from '../../webhooks/send.ts';
import { checkTarget } from '../../webhooks/target.ts';
import { requireViewer, type ApiContext } from '../context.ts';
import { badInput } from '../errors.ts';
import { checkPageSize } from './market.ts';
import type { ApiServices } from './services.ts';

/** An endpoint as the API's `Webhook` type shows it; the secret never leaves after creation. */
const webhookView = (state: WebhookState) => ({
  id: state.created.webhookId,
  url: state.created.url,
  description: state.created.description,
  alertIds: state.created.alertIds ?? null,
  status: state.status,
  createdAt: state.created.createdAt,
  failingSince: state.failingSince ?? null,
  disabledAt: state.disabledAt ?? null,
});

const deliveryView = (delivery: DeliveryView) => ({ ...delivery, id: delivery.messageId });

export function webhookResolvers(services: ApiServices) {
  const { client, config } = services;
  const allowPrivate = config.PRICEALERT_WEBHOOK_ALLOW_PRIVATE;
  const sender = createSender({ allowPrivate, timeoutMs: config.PRICEALERT_WEBHOOK_TIMEOUT });
  const rules = {
    maxPerUser: config.PRICEALERT_WEBHOOKS_PER_USER,
    checkUrl: async (url: string) => {
      const check = await checkTarget(url, allowPrivate);
      return check.ok ? undefined : check.reason;
    },
    ownsAlert: async (userId: string, alertId: string) =>
      /^[A-Za-z0-9._:-]{1,128}$/.test(alertId) &&
      (services.reactor.views.alert(alertId) ?? (await readAlert(client, alertId))?.created)?.userId ===
        userId,
  };

  const change = (kind: WebhookChange) => async (_: unknown, args: { id: string }, context: ApiContext) => {
    const { userId } = requireViewer(context);
    checkWebhookId(args.id, 'id');
    return changeWebhook(client, { webhookId: args.id, userId, change: kind, now: dateToIso(new Date()) });
  };

  return {
    Query: {
      webhooks: async (_: unknown, __: unknown, context: ApiContext) =>
        (await listWebhooks(client, requireViewer(context).userId)).map(webhookView),
      webhook: async (_: unknown, args: { id: string }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        checkWebhookId(args.id, 'id');
        try {
          return webhookView(await ownWebhook(client, userId, args.id));
        } catch (error) {
          if (error instanceof DomainError && error.code === 'NOT_FOUND') return null;
          throw error;
        }
      },
      webhookDeliveries: async (
        _: unknown,
        args: { webhookId: string; first: number; after?: string | null },
        context: ApiContext,
      ) => {
        const { userId } = requireViewer(context);
        checkWebhookId(args.webhookId, 'webhookId');
        checkPageSize(services, args.first, 'first');
        await ownWebhook(client, userId, args.webhookId);
        const deliveries = await readDeliveries(client, args.webhookId);
        let start = 0;
        if (args.after) {
          const index = deliveries.findIndex((delivery) => delivery.messageId === args.after);
          if (index < 0) throw badInput('after', 'is not the id of a delivery to this webhook');
          start = index + 1;
        }
        return deliveries.slice(start, start + args.first).map(deliveryView);
      },
    },
    Mutation: {
      createWebhook: async (
        _: unknown,
        args: { url: string; description?: string | null; alertIds?: string[] | null },
        context: ApiContext,
      ) => {
        const { userId } = requireViewer(context);
        const state = await createWebhook(
          client,
          {
            webhookId: randomUUID(),
            userId,
            url: args.url,
            description: args.description ?? '',
            ...(args.alertIds ? { alertIds: args.alertIds } : {}),
            now: dateToIso(new Date()),
          },
          rules,
        );
        return { webhook: webhookView(state), secret: state.created.secret };
      },
      pauseWebhook: async (...args: Parameters<ReturnType<typeof change>>) =>
        webhookView(await change('pause')(...args)),
      resumeWebhook: async (...args: Parameters<ReturnType<typeof change>>) =>
        webhookView(await change('resume')(...args)),
      deleteWebhook: async (...args: Parameters<ReturnType<typeof change>>) =>
        (await change('delete')(...args)).created.webhookId,
      testWebhook: async (_: unknown, args: { id: string }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        const state = await ownWebhook(client, userId, args.id);
        const { webhookId, url, secret } = state.created;
        const messageId = `${PING_PREFIX}${randomUUID()}`;
        const startedAt = dateToIso(new Date());
        const body = JSON.stringify({ type: 'webhook.test', timestamp: startedAt, data: { webhookId } });
        const outcome = await sender.send(url, secret, { id: messageId, body });
        const attemptedAt = dateToIso(new Date());
        const attempted = {
          webhookId,
          messageId,
          attempt: 1,
          ok: outcome.ok,
          ms: outcome.ms,
          startedAt,
          attemptedAt,
          ...(outcome.status === undefined ? {} : { status: outcome.status }),
          ...(outcome.error === undefined ? {} : { error: outcome.error }),
        };
        await appendToStream(
          client,
          webhookStream(webhookId),
          { type: 'WebhookDeliveryAttempted', data: attempted },
          { expectedRevision: ANY },
        );
        return deliveryView({
          messageId,
          kind: 'PING',
          outcome: outcome.ok ? 'DELIVERED' : 'FAILED',
          finishedAt: attemptedAt,
          attempts: [
            {
              attempt: 1,
              ok: outcome.ok,
              startedAt,
              attemptedAt,
              ms: outcome.ms,
              ...(outcome.status === undefined ? {} : { statusCode: outcome.status }),
              ...(outcome.error === undefined ? {} : { error: outcome.error }),
            },
          ],
        });
      },
    },
  };
}
