// A webhook endpoint's life: its events, its state folded from `webhook-{id}`, the register / pause /
// resume / delete decisions and their handlers, and the delivery record the API shows.
import { randomBytes } from 'node:crypto';
import { StoreConflict } from '../eventstore/errors.ts';
import {
  ANY,
  appendToStream,
  FORWARDS,
  lastEvent,
  NO_STREAM,
  readStream,
  START,
  type ExpectedRevision,
  type StoreClient,
} from '../eventstore/store.ts';
import { claimUntilAccepted } from './alerts.ts';
import { badInput, DomainError } from './errors.ts';
import { positionOrder } from './position.ts';

export type WebhookStatus = 'ACTIVE' | 'PAUSED' | 'DISABLED' | 'DELETED';

export type WebhookCreated = {
  webhookId: string;
  userId: string;
  url: string;
  description: string;
  /** Only these alerts' triggers; every alert of the user when absent. */
  alertIds?: string[];
  /** `whsec_…`, the Standard Webhooks signing secret; shown to the user once, kept for the workers. */
  secret: string;
  createdAt: string;
};

export type WebhookDeliveryStarted = {
  webhookId: string;
  /** The `webhook-id` header: the trigger's cursor, or `ping_…` for a test. */
  messageId: string;
  attempt: number;
  worker: string;
  startedAt: string;
  /** Until then the attempt is this worker's; after it, a lost attempt (the worker died) may be made again. */
  leaseUntil: string;
};

export type WebhookDeliveryAttempted = {
  webhookId: string;
  messageId: string;
  attempt: number;
  ok: boolean;
  status?: number;
  error?: string;
  ms: number;
  /** When the attempt began (as in its WebhookDeliveryStarted) and ended. */
  startedAt: string;
  attemptedAt: string;
  /** When the next attempt is due, after a failure that is not the last. */
  nextAttemptAt?: string;
};

export type WebhookEvent =
  | { type: 'WebhookCreated'; data: WebhookCreated }
  | { type: 'WebhookPaused'; data: { webhookId: string; pausedAt: string } }
  | { type: 'WebhookResumed'; data: { webhookId: string; resumedAt: string } }
  | { type: 'WebhookDeleted'; data: { webhookId: string; deletedAt: string } }
  | { type: 'WebhookDisabled'; data: { webhookId: string; reason: string; disabledAt: string } }
  | { type: 'WebhookDeliveryStarted'; data: WebhookDeliveryStarted }
  | { type: 'WebhookDeliveryAttempted'; data: WebhookDeliveryAttempted }
  | {
      type: 'WebhookDelivered';
      data: { webhookId: string; messageId: string; attempts: number; deliveredAt: string };
    }
  | {
      type: 'WebhookDeliveryFailed';
      data: { webhookId: string; messageId: string; attempts: number; failedAt: string };
    };

export const WEBHOOK_EVENT_PREFIX = 'Webhook';
export const webhookStream = (webhookId: string): string => `webhook-${webhookId}`;
/** A user's endpoints: WebhookClaimed / WebhookReleased, appended at the revision the count was made at. */
export const userWebhooksStream = (userId: string): string => `user-webhooks-${userId}`;

const WEBHOOK_EVENT_TYPES = new Set([
  'WebhookCreated',
  'WebhookPaused',
  'WebhookResumed',
  'WebhookDeleted',
  'WebhookDisabled',
  'WebhookDeliveryStarted',
  'WebhookDeliveryAttempted',
  'WebhookDelivered',
  'WebhookDeliveryFailed',
]);

/** An endpoint event of `webhookId`'s stream, or undefined for anything else. */
export function parseWebhookEvent(type: string, data: unknown, webhookId?: string): WebhookEvent | undefined {
  if (!WEBHOOK_EVENT_TYPES.has(type) || typeof data !== 'object' || data === null) return undefined;
  const id = (data as { webhookId?: unknown }).webhookId;
  if (typeof id !== 'string' || (webhookId !== undefined && id !== webhookId)) return undefined;
  if (type !== 'WebhookCreated' && type.startsWith('WebhookDeliver')) {
    if (typeof (data as { messageId?: unknown }).messageId !== 'string') return undefined;
  }
  return { type, data } as WebhookEvent;
}

/** An outstanding delivery as the workers see it. */
export interface OpenDelivery {
  /** Attempts started so far (a lost one counts). */
  attempts: number;
  firstAttemptAt?: number;
  /** Not before this (ms); a failed attempt sets it. */
  nextAttemptAt?: number;
  /** An attempt some worker is making until `until` (ms). */
  inFlight?: { worker: string; until: number };
}

export interface WebhookState {
  created: WebhookCreated;
  status: WebhookStatus;
  /** Revision of the last event folded in: the expected revision for the next append. */
  revision: bigint;
  /** The first failed attempt since the last delivered one: a day of failures disables the endpoint. */
  failingSince?: string;
  disabledAt?: string;
  /** Outstanding deliveries by message id, in the order they became due; the worker adds them. */
  open: Map<string, OpenDelivery>;
}

const ms = (iso: string): number => Date.parse(iso);

/**
 * evolve for one endpoint, in place (the worker folds thousands of them). Events at or below the folded
 * revision are ignored, so a worker applies its own appends at once and again when `$all` brings them.
 */
export function evolveWebhook(
  state: WebhookState | undefined,
  event: WebhookEvent | undefined,
  revision: bigint,
): WebhookState | undefined {
  if (state && revision <= state.revision) return state;
  if (!event) {
    if (state) state.revision = revision;
    return state;
  }
  if (event.type === 'WebhookCreated')
    return state ?? { created: event.data, status: 'ACTIVE', revision, open: new Map() };
  if (!state) return undefined;
  state.revision = revision;
  if (state.status === 'DELETED') return state;
  switch (event.type) {
    case 'WebhookPaused':
      state.status = 'PAUSED';
      break;
    case 'WebhookResumed':
      state.status = 'ACTIVE';
      delete state.failingSince;
      delete state.disabledAt;
      // Outstanding deliveries go out at once, each with a fresh retry period.
      for (const open of state.open.values()) {
        delete open.nextAttemptAt;
        delete open.firstAttemptAt;
      }
      break;
    case 'WebhookDeleted':
      state.status = 'DELETED';
      state.open.clear();
      break;
    case 'WebhookDisabled':
      state.status = 'DISABLED';
      state.disabledAt = event.data.disabledAt;
      break;
    case 'WebhookDeliveryStarted': {
      const open = state.open.get(event.data.messageId);
      if (open) {
        open.attempts = Math.max(open.attempts, event.data.attempt);
        open.firstAttemptAt ??= ms(event.data.startedAt);
        open.inFlight = { worker: event.data.worker, until: ms(event.data.leaseUntil) };
      }
      break;
    }
    case 'WebhookDeliveryAttempted': {
      const open = state.open.get(event.data.messageId);
      if (open) {
        delete open.inFlight;
        if (event.data.nextAttemptAt !== undefined) open.nextAttemptAt = ms(event.data.nextAttemptAt);
      }
      if (event.data.ok) delete state.failingSince;
      else if (!event.data.messageId.startsWith(PING_PREFIX)) state.failingSince ??= event.data.startedAt;
      break;
    }
    case 'WebhookDelivered':
    case 'WebhookDeliveryFailed':
      state.open.delete(event.data.messageId);
      break;
  }
  return state;
}

export const PING_PREFIX = 'ping_';
export const MAX_DESCRIPTION_LENGTH = 280;
export const MAX_ALERT_IDS = 100;
/** A claim whose endpoint was never created (its creator died in between) stops counting after this. */
const CLAIM_TTL_MS = 30_000;
const WEBHOOK_ID = /^[A-Za-z0-9-]{1,64}$/;

export const checkWebhookId = (id: string, field: string): void => {
  if (!WEBHOOK_ID.test(id)) throw badInput(field, 'is not a webhook id');
};

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
export const newSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** Reads an endpoint's stream and folds it; undefined when it does not exist. */
export async function readWebhook(client: StoreClient, webhookId: string): Promise<WebhookState | undefined> {
  let state: WebhookState | undefined;
  for await (const { event, revision } of readWebhookEvents(client, webhookId))
    state = evolveWebhook(state, event, revision);
  return state;
}

async function* readWebhookEvents(
  client: StoreClient,
  webhookId: string,
): AsyncGenerator<{ event: WebhookEvent | undefined; revision: bigint }> {
  for await (const recorded of readStream(client, webhookStream(webhookId), { fromRevision: START })) {
    const event = recorded.isJson ? parseWebhookEvent(recorded.type, recorded.data, webhookId) : undefined;
    yield { event, revision: recorded.revision };
  }
}

/** The user's endpoint, else NOT_FOUND (another user's endpoint, too: existence is not leaked). */
export async function ownWebhook(
  client: StoreClient,
  userId: string,
  webhookId: string,
): Promise<WebhookState> {
  checkWebhookId(webhookId, 'id');
  const state = await readWebhook(client, webhookId);
  if (!state || state.created.userId !== userId || state.status === 'DELETED')
    throw new DomainError('NOT_FOUND', `webhook ${webhookId} not found`);
  return state;
}

interface Claims {
  /** The user stream's last revision, for the next claim. */
  revision: ExpectedRevision;
  /** Claimed and not released, with when they were claimed (ms). */
  live: Map<string, number>;
}

async function readClaims(client: StoreClient, userId: string): Promise<Claims> {
  const claims: Claims = { revision: NO_STREAM, live: new Map() };
  for await (const recorded of readStream(client, userWebhooksStream(userId), { direction: FORWARDS })) {
    claims.revision = recorded.revision;
    const data = recorded.data as { webhookId?: unknown; claimedAt?: unknown } | null;
    if (typeof data?.webhookId !== 'string') continue;
    if (recorded.type === 'WebhookClaimed') claims.live.set(data.webhookId, ms(String(data.claimedAt)));
    if (recorded.type === 'WebhookReleased') claims.live.delete(data.webhookId);
  }
  return claims;
}

/** The user's endpoints (not deleted), oldest first. */
export async function listWebhooks(client: StoreClient, userId: string): Promise<WebhookState[]> {
  const { live } = await readClaims(client, userId);
  const states = await Promise.all([...live.keys()].map((webhookId) => readWebhook(client, webhookId)));
  return states.filter(
    (state): state is WebhookState =>
      state !== undefined && state.status !== 'DELETED' && state.created.userId === userId,
  );
}

export interface CreateWebhookCommand {
  webhookId: string;
  userId: string;
  url: string;
  description: string;
  alertIds?: string[];
  now: string;
}

export interface WebhookRules {
  maxPerUser: number;
  /** Why the URL may not be a target, or undefined when it may (scheme, addresses). */
  checkUrl(url: string): Promise<string | undefined>;
  /** Whether the alert exists and is the user's. */
  ownsAlert(userId: string, alertId: string): Promise<boolean>;
}

/** decide(createWebhook) for the fields that need no I/O. */
export function checkWebhookInput(command: CreateWebhookCommand): void {
  if ([...command.description].length > MAX_DESCRIPTION_LENGTH)
    throw badInput('description', `must be at most ${MAX_DESCRIPTION_LENGTH} characters`);
  if (command.alertIds !== undefined) {
    if (command.alertIds.length === 0)
      throw badInput('alertIds', 'must name at least one alert, or be left out');
    if (command.alertIds.length > MAX_ALERT_IDS)
      throw badInput('alertIds', `must name at most ${MAX_ALERT_IDS} alerts`);
  }
}

/**
 * Handler: registers an endpoint. The per-user cap is one decision in the store: the endpoint takes a
 * slot in the user's stream at the revision its count was made at (a concurrent create that counted
 * the same endpoints gets a StoreConflict and counts again), and only then is it created.
 */
export async function createWebhook(
  client: StoreClient,
  command: CreateWebhookCommand,
  rules: WebhookRules,
): Promise<WebhookState> {
  checkWebhookInput(command);
  const refused = await rules.checkUrl(command.url);
  if (refused) throw badInput('url', refused);
  for (const alertId of new Set(command.alertIds ?? []))
    if (!(await rules.ownsAlert(command.userId, alertId)))
      throw badInput('alertIds', `alert ${alertId} is not one of your alerts`);
  await claimUntilAccepted('webhooks', async () => {
    const claims = await readClaims(client, command.userId);
    const since = ms(command.now) - CLAIM_TTL_MS;
    const existing = await Promise.all(
      [...claims.live].map(async ([webhookId, claimedAt]) => {
        const state = await readWebhook(client, webhookId);
        return state ? state.status !== 'DELETED' : claimedAt >= since;
      }),
    );
    if (existing.filter(Boolean).length >= rules.maxPerUser)
      throw new DomainError('LIMIT_EXCEEDED', `at most ${rules.maxPerUser} webhooks per user`);
    await appendToStream(
      client,
      userWebhooksStream(command.userId),
      {
        type: 'WebhookClaimed',
        data: { webhookId: command.webhookId, userId: command.userId, claimedAt: command.now },
      },
      { expectedRevision: claims.revision },
    );
  });
  const created: WebhookCreated = {
    webhookId: command.webhookId,
    userId: command.userId,
    url: command.url,
    description: command.description,
    secret: newSecret(),
    createdAt: command.now,
  };
  if (command.alertIds !== undefined) created.alertIds = [...new Set(command.alertIds)];
  await appendToStream(
    client,
    webhookStream(command.webhookId),
    { type: 'WebhookCreated', data: created },
    { expectedRevision: NO_STREAM },
  );
  return evolveWebhook(undefined, { type: 'WebhookCreated', data: created }, 0n)!;
}

export type WebhookChange = 'pause' | 'resume' | 'delete';

/** decide(pause | resume | delete): the events, none when the endpoint already is so. */
export function decideChange(state: WebhookState, change: WebhookChange, now: string): WebhookEvent[] {
  const { webhookId } = state.created;
  switch (change) {
    case 'pause':
      if (state.status === 'PAUSED') return [];
      if (state.status === 'DISABLED')
        throw new DomainError('CONFLICT', `webhook ${webhookId} is DISABLED; resume it to deliver again`);
      return [{ type: 'WebhookPaused', data: { webhookId, pausedAt: now } }];
    case 'resume':
      return state.status === 'ACTIVE'
        ? []
        : [{ type: 'WebhookResumed', data: { webhookId, resumedAt: now } }];
    case 'delete':
      return [{ type: 'WebhookDeleted', data: { webhookId, deletedAt: now } }];
  }
}

/** Handler: pauses, resumes or deletes the user's endpoint at the revision it was read at, deciding again on a conflict. */
export async function changeWebhook(
  client: StoreClient,
  command: { webhookId: string; userId: string; change: WebhookChange; now: string },
): Promise<WebhookState> {
  for (let attempt = 0; ; attempt += 1) {
    const state = await ownWebhook(client, command.userId, command.webhookId);
    const events = decideChange(state, command.change, command.now);
    if (events.length === 0) return state;
    try {
      await appendToStream(client, webhookStream(command.webhookId), events, {
        expectedRevision: state.revision,
      });
    } catch (error) {
      if (!(error instanceof StoreConflict) || attempt >= 10) throw error;
      continue;
    }
    if (command.change === 'delete')
      await appendToStream(
        client,
        userWebhooksStream(command.userId),
        {
          type: 'WebhookReleased',
          data: { webhookId: command.webhookId, userId: command.userId, releasedAt: command.now },
        },
        { expectedRevision: ANY },
      );
    let next: WebhookState | undefined = state;
    for (const [index, event] of events.entries())
      next = evolveWebhook(next, event, state.revision + 1n + BigInt(index));
    return next!;
  }
}

export type DeliveryOutcome = 'PENDING' | 'DELIVERED' | 'FAILED';

export interface DeliveryAttemptView {
  attempt: number;
  startedAt?: string;
  attemptedAt?: string;
  /** null while the attempt runs, or when its worker stopped before recording it. */
  ok: boolean | null;
  statusCode?: number;
  error?: string;
  ms?: number;
}

export interface DeliveryView {
  messageId: string;
  kind: 'TRIGGER' | 'PING';
  outcome: DeliveryOutcome;
  attempts: DeliveryAttemptView[];
  nextAttemptAt?: string;
  finishedAt?: string;
}

/** Every delivery recorded in an endpoint's stream with its attempts, in the order of their first event. */
export async function readDeliveries(client: StoreClient, webhookId: string): Promise<DeliveryView[]> {
  const deliveries = new Map<string, DeliveryView>();
  const deliveryOf = (messageId: string): DeliveryView => {
    let view = deliveries.get(messageId);
    if (!view) {
      view = {
        messageId,
        kind: messageId.startsWith(PING_PREFIX) ? 'PING' : 'TRIGGER',
        outcome: 'PENDING',
        attempts: [],
      };
      deliveries.set(messageId, view);
    }
    return view;
  };
  const attemptOf = (view: DeliveryView, attempt: number): DeliveryAttemptView => {
    let found = view.attempts.find((entry) => entry.attempt === attempt);
    if (!found) {
      found = { attempt, ok: null };
      view.attempts.push(found);
    }
    return found;
  };
  for await (const { event } of readWebhookEvents(client, webhookId)) {
    if (!event || !('messageId' in event.data)) continue;
    const view = deliveryOf(event.data.messageId);
    switch (event.type) {
      case 'WebhookDeliveryStarted':
        attemptOf(view, event.data.attempt).startedAt = event.data.startedAt;
        break;
      case 'WebhookDeliveryAttempted': {
        const { attempt, ok, status, error, ms: took, startedAt, attemptedAt, nextAttemptAt } = event.data;
        Object.assign(
          attemptOf(view, attempt),
          { ok, startedAt, attemptedAt, ms: took },
          status === undefined ? {} : { statusCode: status },
          error === undefined ? {} : { error },
        );
        if (nextAttemptAt !== undefined) view.nextAttemptAt = nextAttemptAt;
        else delete view.nextAttemptAt;
        if (view.kind === 'PING') {
          view.outcome = ok ? 'DELIVERED' : 'FAILED';
          view.finishedAt = attemptedAt;
        }
        break;
      }
      case 'WebhookDelivered':
      case 'WebhookDeliveryFailed':
        view.outcome = event.type === 'WebhookDelivered' ? 'DELIVERED' : 'FAILED';
        view.finishedAt = event.type === 'WebhookDelivered' ? event.data.deliveredAt : event.data.failedAt;
        delete view.nextAttemptAt;
        break;
    }
  }
  return [...deliveries.values()];
}

/** The `$all` order (position.ts) of an endpoint stream's last event, to wait for a fold to reach it. */
export async function lastPositionOf(client: StoreClient, webhookId: string): Promise<bigint | undefined> {
  const position = (await lastEvent(client, webhookStream(webhookId)))?.position;
  return position && positionOrder(position);
}
