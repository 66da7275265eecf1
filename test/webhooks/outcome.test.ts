// The pure side of delivery: given an endpoint's events, when an attempt ends, then what is recorded.
import { describe, expect, it } from 'vitest';
import { dateToIso } from '../../src/domain/time.ts';
import { evolveWebhook, type WebhookEvent, type WebhookState } from '../../src/domain/webhooks.ts';
import { decideOutcome, retryDelay, type RetrySchedule } from '../../src/webhooks/outcome.ts';

const schedule: RetrySchedule = { firstMs: 1_000, maxMs: 60_000, giveUpMs: 86_400_000 };
const T0 = Date.parse('2026-12-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MESSAGE = 't2.example';

function given(events: WebhookEvent[]): WebhookState {
  let state: WebhookState | undefined = evolveWebhook(
    undefined,
    {
      type: 'WebhookCreated',
      data: {
        webhookId: 'w1',
        userId: 'u1',
        url: 'https://example.com/h',
        description: '',
        secret: 'whsec_AAAA',
        createdAt: iso(T0),
      },
    },
    0n,
  );
  state!.open.set(MESSAGE, { attempts: 0 });
  events.forEach((event, index) => (state = evolveWebhook(state, event, BigInt(index + 1))));
  return state!;
}

const started = (attempt: number, at: number): WebhookEvent => ({
  type: 'WebhookDeliveryStarted',
  data: {
    webhookId: 'w1',
    messageId: MESSAGE,
    attempt,
    worker: 'w',
    startedAt: iso(at),
    leaseUntil: iso(at + 10_000),
  },
});
const failed = (attempt: number, at: number, messageId = MESSAGE): WebhookEvent => ({
  type: 'WebhookDeliveryAttempted',
  data: {
    webhookId: 'w1',
    messageId,
    attempt,
    ok: false,
    status: 500,
    ms: 5,
    startedAt: iso(at),
    attemptedAt: iso(at + 5),
    nextAttemptAt: iso(at + 1_000),
  },
});

const when = (state: WebhookState, ok: boolean, startedAt: number, random = 0.5) =>
  decideOutcome(
    {
      state,
      messageId: MESSAGE,
      open: state.open.get(MESSAGE)!,
      attempt: state.open.get(MESSAGE)!.attempts,
      startedAt: new Date(startedAt),
      outcome: ok
        ? { ok: true, status: 204, ms: 3 }
        : { ok: false, error: 'no answer within 5000 ms', ms: 5000 },
      at: new Date(startedAt + 5),
    },
    schedule,
    random,
  ).map((event) => event.type);

describe('retryDelay', () => {
  it('doubles from the first wait up to the longest, with between half and all of it at random', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelay(attempt, schedule, 1))).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
    expect(retryDelay(1, schedule, 0)).toBe(500);
    expect(retryDelay(30, schedule, 1)).toBe(60_000);
    expect(retryDelay(500, schedule, 0)).toBe(30_000);
  });
});

describe('decideOutcome', () => {
  it('records a 2xx as the attempt and the delivery', () => {
    expect(when(given([started(1, T0)]), true, T0)).toEqual(['WebhookDeliveryAttempted', 'WebhookDelivered']);
  });

  it('schedules the next attempt after a failure within the retry period', () => {
    const state = given([started(1, T0)]);
    const [attempted] = decideOutcome(
      {
        state,
        messageId: MESSAGE,
        open: state.open.get(MESSAGE)!,
        attempt: 1,
        startedAt: new Date(T0),
        outcome: { ok: false, status: 503, error: 'HTTP 503', ms: 4 },
        at: new Date(T0 + 4),
      },
      schedule,
      1,
    );
    expect(attempted).toMatchObject({
      type: 'WebhookDeliveryAttempted',
      data: {
        ok: false,
        status: 503,
        error: 'HTTP 503',
        nextAttemptAt: dateToIso(new Date(T0 + 4 + 1_000)),
      },
    });
  });

  it('gives up a delivery failing a day after its first attempt and disables an endpoint failing all along', () => {
    const day = schedule.giveUpMs;
    const state = given([started(1, T0), failed(1, T0), started(2, T0 + day)]);
    expect(when(state, false, T0 + day)).toEqual([
      'WebhookDeliveryAttempted',
      'WebhookDeliveryFailed',
      'WebhookDisabled',
    ]);
  });

  it('does not disable an endpoint that delivered something since', () => {
    const day = schedule.giveUpMs;
    const other: WebhookEvent = {
      type: 'WebhookDeliveryAttempted',
      data: {
        webhookId: 'w1',
        messageId: 't2.other',
        attempt: 1,
        ok: true,
        status: 200,
        ms: 3,
        startedAt: iso(T0 + 60_000),
        attemptedAt: iso(T0 + 60_003),
      },
    };
    const state = given([started(1, T0), failed(1, T0), other, started(2, T0 + day)]);
    expect(when(state, false, T0 + day)).toEqual(['WebhookDeliveryAttempted', 'WebhookDeliveryFailed']);
  });

  it('pings do not make an endpoint failing', () => {
    const state = given([failed(1, T0, 'ping_1')]);
    expect(state.failingSince).toBeUndefined();
  });
});

describe('evolveWebhook', () => {
  it('resuming sends outstanding deliveries at once, with a fresh retry period', () => {
    const state = given([
      started(1, T0),
      failed(1, T0),
      { type: 'WebhookDisabled', data: { webhookId: 'w1', reason: 'x', disabledAt: iso(T0 + 10) } },
      { type: 'WebhookResumed', data: { webhookId: 'w1', resumedAt: iso(T0 + 20) } },
    ]);
    expect(state.status).toBe('ACTIVE');
    expect(state.failingSince).toBeUndefined();
    expect(state.open.get(MESSAGE)).toEqual({ attempts: 1 });
  });

  it('ignores what it has already folded, so a worker can apply its own appends at once', () => {
    const state = given([started(1, T0)]);
    evolveWebhook(state, { type: 'WebhookPaused', data: { webhookId: 'w1', pausedAt: iso(T0) } }, 1n);
    expect(state.status).toBe('ACTIVE');
    evolveWebhook(state, { type: 'WebhookPaused', data: { webhookId: 'w1', pausedAt: iso(T0) } }, 2n);
    expect(state.status).toBe('PAUSED');
  });

  it('forgets a deleted endpoint’s outstanding deliveries', () => {
    const state = given([{ type: 'WebhookDeleted', data: { webhookId: 'w1', deletedAt: iso(T0) } }]);
    expect(state.status).toBe('DELETED');
    expect(state.open.size).toBe(0);
  });
});
