// The webhook delivery worker: folds the alert and webhook events of `$all` (a catch-up subscription
// from the start, filtered by event type on the server) into every endpoint's outstanding deliveries,
// then, once caught up, runs one lane per endpoint that POSTs them. Each attempt is claimed in the
// endpoint's stream at the revision the worker has folded (WebhookDeliveryStarted), so of several
// workers exactly one makes it; its outcome is recorded there too (WebhookDeliveryAttempted, then
// WebhookDelivered / WebhookDeliveryFailed / WebhookDisabled). What is outstanding after a restart or a
// kill -9 is therefore exactly what the endpoint streams say is not finished.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { toAlertView } from '../../projections/alertsView.ts';
import { StoreConflict } from '../eventstore/errors.ts';
import {
  appendToStream,
  START,
  subscribeToAll,
  type AllEvent,
  type StoreClient,
  type StorePosition,
  type StoreSubscription,
} from '../eventstore/store.ts';
import { encodeCursor } from '../api/cursor.ts';
import type { Config } from '../config.ts';
import { causeOf, evolveAlert, type AlertState } from '../domain/alerts.ts';
import { parseEvent, type AlertTriggered } from '../domain/events.ts';
import { positionOrder } from '../domain/position.ts';
import { dateToIso } from '../domain/time.ts';
import { alertStream } from '../domain/types.ts';
import {
  evolveWebhook,
  lastPositionOf,
  parseWebhookEvent,
  WEBHOOK_EVENT_PREFIX,
  webhookStream,
  type WebhookEvent,
  type WebhookState,
} from '../domain/webhooks.ts';
import type { Logger } from '../logger.ts';
import { decideOutcome, type RetrySchedule } from './outcome.ts';
import { createSender, type SendOutcome } from './send.ts';

export interface WebhookWorkerOptions {
  client: StoreClient;
  config: Config;
  logger: Logger;
  /** Names this worker in the attempts it claims; default host:pid:random. */
  workerId?: string;
}

export interface WebhookWorker {
  /** Resolves once the fold has caught up with the store and deliveries have begun. */
  readonly ready: Promise<void>;
  /** Stops taking deliveries, lets attempts under way finish and record, and closes connections. */
  stop(): Promise<void>;
}

const WEBHOOK_STREAM = /^webhook-(.+)$/;
const RESUBSCRIBE_MS = 1_000;
const STORE_RETRY_MS = 500;
/** Attempts to one endpoint made together: a burst of triggers costs two appends, not two each. */
const MAX_BATCH = 16;

interface Endpoint {
  state: WebhookState;
  /** Message bodies of the outstanding deliveries, by message id. */
  bodies: Map<string, string>;
  running: boolean;
  wake?: () => void;
}

/** The trigger as it is POSTed: Standard Webhooks' `type`/`timestamp`/`data`, the data shaped as the API's AlertTrigger. */
function triggerBody(cursor: string, alert: AlertState, event: AlertTriggered): string {
  const { userId: _userId, ...view } = toAlertView(alert);
  return JSON.stringify({
    type: 'alert.triggered',
    timestamp: event.triggeredAt,
    data: {
      cursor,
      alert: view,
      value: event.value,
      trade: { product: event.product, ...event.trade },
      triggeredAt: event.triggeredAt,
    },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function startWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { client, config } = options;
  const logger = options.logger.child({ component: 'webhooks' });
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const schedule: RetrySchedule = config.PRICEALERT_WEBHOOK_RETRY;
  const timeoutMs = config.PRICEALERT_WEBHOOK_TIMEOUT;
  // An attempt not recorded within twice the timeout was lost with its worker; it may be made again.
  const leaseMs = timeoutMs * 2;
  const sender = createSender({ allowPrivate: config.PRICEALERT_WEBHOOK_ALLOW_PRIVATE, timeoutMs });

  const alerts = new Map<string, AlertState>();
  const endpoints = new Map<string, Endpoint>();
  const byUser = new Map<string, Set<string>>();
  let processed = -1n;
  const waiters: { order: bigint; resolve: () => void }[] = [];
  let live = false;
  let stopped = false;
  let subscription: StoreSubscription<AllEvent> | undefined;
  const lanes = new Set<Promise<void>>();
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  /** Resolves once the fold has taken in every event up to this `$all` order (position.ts). */
  const caughtUpTo = (order: bigint): Promise<void> =>
    order <= processed || stopped
      ? Promise.resolve()
      : new Promise((resolve) => waiters.push({ order, resolve }));

  const kick = (endpoint: Endpoint): void => {
    if (!live || stopped) return;
    if (endpoint.running) return endpoint.wake?.();
    if (endpoint.state.status !== 'ACTIVE' || endpoint.state.open.size === 0) return;
    const lane = runLane(endpoint).catch((error: unknown) =>
      logger.error({ err: error, webhookId: endpoint.state.created.webhookId }, 'a delivery lane failed'),
    );
    lanes.add(lane);
    void lane.finally(() => lanes.delete(lane));
  };

  const onTrigger = (alert: AlertState, event: AlertTriggered, cause: bigint): void => {
    const ids = byUser.get(event.userId);
    if (!ids) return;
    const cursor = encodeCursor(event.userId, { cause, created: alert.createdOrder ?? 0n });
    let body: string | undefined;
    for (const id of ids) {
      const endpoint = endpoints.get(id)!;
      const { state } = endpoint;
      if (state.status === 'DELETED') continue;
      if (state.created.alertIds && !state.created.alertIds.includes(event.alertId)) continue;
      if (state.open.has(cursor)) continue;
      body ??= triggerBody(cursor, alert, event);
      state.open.set(cursor, { attempts: 0 });
      endpoint.bodies.set(cursor, body);
      kick(endpoint);
    }
  };

  const foldWebhookEvent = (webhookId: string, event: WebhookEvent | undefined, revision: bigint): void => {
    const existing = endpoints.get(webhookId);
    const state = evolveWebhook(existing?.state, event, revision);
    if (!state) return;
    if (!existing) {
      endpoints.set(webhookId, { state, bodies: new Map(), running: false });
      const ids = byUser.get(state.created.userId) ?? new Set<string>();
      byUser.set(state.created.userId, ids);
      ids.add(webhookId);
      return;
    }
    for (const messageId of existing.bodies.keys())
      if (!state.open.has(messageId)) existing.bodies.delete(messageId);
    kick(existing);
  };

  const fold = (recorded: {
    streamId: string;
    type: string;
    data: unknown;
    revision: bigint;
    position?: StorePosition;
    metadata: unknown;
    isJson: boolean;
  }): void => {
    if (!recorded.isJson) return;
    const webhook = WEBHOOK_STREAM.exec(recorded.streamId);
    if (webhook) {
      const webhookId = webhook[1]!;
      foldWebhookEvent(
        webhookId,
        parseWebhookEvent(recorded.type, recorded.data, webhookId),
        recorded.revision,
      );
      return;
    }
    const parsed = parseEvent(recorded.type, recorded.data);
    if (!parsed.ok || parsed.event.type === 'TradeRecorded') return;
    const { event } = parsed;
    const alertId = event.data.alertId;
    if (recorded.streamId !== alertStream(alertId)) return;
    const before = alerts.get(alertId);
    const position = recorded.position && positionOrder(recorded.position);
    const cause = causeOf(recorded.metadata);
    const after = evolveAlert(before, event, {
      revision: recorded.revision,
      ...(position === undefined ? {} : { position }),
      ...(cause === undefined ? {} : { cause }),
    });
    if (!after) return;
    alerts.set(alertId, after);
    if (event.type === 'AlertTriggered' && after !== before)
      onTrigger(after, event.data, cause ?? position ?? 0n);
  };

  /** Appends the worker's events at the revision it has folded and applies them; false (after catching up) on a conflict. */
  const appendOwn = async (endpoint: Endpoint, events: WebhookEvent[]): Promise<boolean> => {
    const { state } = endpoint;
    const expected = state.revision;
    try {
      await appendToStream(client, webhookStream(state.created.webhookId), events, {
        expectedRevision: expected,
      });
    } catch (error) {
      if (error instanceof StoreConflict) {
        const last = await lastPositionOf(client, state.created.webhookId);
        if (last !== undefined) await caughtUpTo(last);
      } else {
        logger.warn(
          { err: error, webhookId: state.created.webhookId },
          'recording a delivery failed; retrying',
        );
        await sleep(STORE_RETRY_MS);
      }
      return false;
    }
    for (const [index, event] of events.entries())
      foldWebhookEvent(state.created.webhookId, event, expected + 1n + BigInt(index));
    return true;
  };

  /** The outstanding deliveries that are due and not being attempted (at most a batch), else how long until one may be. */
  const nextDue = (state: WebhookState, now: number): { messageIds: string[] } | { waitMs: number } => {
    const due: string[] = [];
    let waitMs = Infinity;
    for (const [messageId, open] of state.open) {
      const from = Math.max(open.nextAttemptAt ?? 0, open.inFlight?.until ?? 0);
      if (from > now) waitMs = Math.min(waitMs, from - now);
      else if (due.push(messageId) >= MAX_BATCH) break;
    }
    return due.length > 0 ? { messageIds: due } : { waitMs };
  };

  /** One batch of attempts to an endpoint: claimed in one append, POSTed side by side, recorded in one append. */
  const attempt = async (endpoint: Endpoint, messageIds: string[]): Promise<void> => {
    const { state } = endpoint;
    const { webhookId, url, secret } = state.created;
    const startedAt = new Date();
    const batch = messageIds.map((messageId) => {
      const open = state.open.get(messageId)!;
      return { messageId, open, attempt: open.attempts + 1 };
    });
    const claimed = await appendOwn(
      endpoint,
      batch.map(({ messageId, attempt }) => ({
        type: 'WebhookDeliveryStarted',
        data: {
          webhookId,
          messageId,
          attempt,
          worker: workerId,
          startedAt: dateToIso(startedAt),
          leaseUntil: dateToIso(new Date(startedAt.getTime() + leaseMs)),
        },
      })),
    );
    if (!claimed) return;
    const outcomes = await Promise.all(
      batch.map(async ({ messageId }) => {
        const body = endpoint.bodies.get(messageId);
        const outcome: SendOutcome =
          body === undefined
            ? { ok: false, error: 'message body unknown to this worker', ms: 0 }
            : await sender.send(url, secret, { id: messageId, body });
        return { outcome, at: new Date() };
      }),
    );
    const events: WebhookEvent[] = [];
    for (const [index, { messageId, open, attempt }] of batch.entries()) {
      const { outcome, at } = outcomes[index]!;
      const decided = decideOutcome(
        { state, messageId, open, attempt, startedAt, outcome, at },
        schedule,
        Math.random(),
      );
      // Several failures in one batch disable the endpoint once.
      const disabledAlready = events.some((event) => event.type === 'WebhookDisabled');
      events.push(...decided.filter((event) => event.type !== 'WebhookDisabled' || !disabledAlready));
      if (!outcome.ok)
        logger.debug({ webhookId, messageId, attempt, error: outcome.error }, 'delivery attempt failed');
    }
    // The outcome is a fact: it is recorded even if the endpoint changed meanwhile (paused, deleted).
    while (!(await appendOwn(endpoint, events)) && !stopped) {
      /* caught up with the endpoint's stream; append again at its new revision */
    }
  };

  const runLane = async (endpoint: Endpoint): Promise<void> => {
    endpoint.running = true;
    try {
      while (!stopped && endpoint.state.status === 'ACTIVE' && endpoint.state.open.size > 0) {
        const due = nextDue(endpoint.state, Date.now());
        if ('messageIds' in due) {
          await attempt(endpoint, due.messageIds);
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(due.waitMs, 2_147_483_647));
          endpoint.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delete endpoint.wake;
      }
    } finally {
      endpoint.running = false;
    }
  };

  const run = async (): Promise<void> => {
    let from: StorePosition | typeof START = START;
    while (!stopped) {
      try {
        subscription = subscribeToAll(client, {
          fromPosition: from,
          eventTypePrefixes: ['Alert', WEBHOOK_EVENT_PREFIX],
          onCaughtUp: () => {
            if (live) return;
            live = true;
            logger.info({ endpoints: endpoints.size }, 'webhook deliveries caught up with the store');
            for (const endpoint of endpoints.values()) kick(endpoint);
            markReady();
          },
        });
        for await (const recorded of subscription) {
          fold(recorded);
          from = recorded.position;
          processed = positionOrder(recorded.position);
          for (let index = waiters.length - 1; index >= 0; index -= 1) {
            const waiter = waiters[index]!;
            if (waiter.order <= processed) {
              waiters.splice(index, 1);
              waiter.resolve();
            }
          }
        }
      } catch (error) {
        if (stopped) break;
        logger.warn({ err: error }, 'the webhook subscription to $all failed; resubscribing');
        await sleep(RESUBSCRIBE_MS);
      }
    }
  };
  const running = run();

  return {
    ready,
    async stop() {
      stopped = true;
      await subscription?.unsubscribe().catch(() => undefined);
      for (const endpoint of endpoints.values()) endpoint.wake?.();
      for (const waiter of waiters.splice(0)) waiter.resolve();
      await Promise.all([...lanes]);
      await running;
      sender.close();
    },
  };
}
