// decide(attempt outcome): what one finished attempt adds to the endpoint's stream — the attempt, and
// the delivery's end (delivered, or given up after the retry period), or when to try again (exponential
// backoff with jitter), and the endpoint's disabling after a day of failures. Pure: time and randomness
// come in as arguments.
import { dateToIso } from '../domain/time.ts';
import type { OpenDelivery, WebhookEvent, WebhookState } from '../domain/webhooks.ts';
import type { SendOutcome } from './send.ts';

export interface RetrySchedule {
  /** The wait after the first failed attempt; it doubles with each further one… */
  firstMs: number;
  /** …up to this. */
  maxMs: number;
  /** Attempts stop this long after the first, and an endpoint failing this long is disabled. */
  giveUpMs: number;
}

/** The wait after failed attempt `attempt` (1-based): half the doubled delay, plus up to as much again at random. */
export function retryDelay(attempt: number, schedule: RetrySchedule, random: number): number {
  const doubled = schedule.firstMs * 2 ** Math.min(attempt - 1, 40);
  const delay = Math.min(schedule.maxMs, doubled);
  return Math.round(delay / 2 + (random * delay) / 2);
}

export interface AttemptResult {
  state: WebhookState;
  messageId: string;
  open: OpenDelivery;
  attempt: number;
  startedAt: Date;
  outcome: SendOutcome;
  at: Date;
}

export function decideOutcome(
  result: AttemptResult,
  schedule: RetrySchedule,
  random: number,
): WebhookEvent[] {
  const { state, messageId, open, attempt, outcome, at } = result;
  const webhookId = state.created.webhookId;
  const attemptedAt = dateToIso(at);
  const startedAt = dateToIso(result.startedAt);
  const attempted: Extract<WebhookEvent, { type: 'WebhookDeliveryAttempted' }> = {
    type: 'WebhookDeliveryAttempted',
    data: { webhookId, messageId, attempt, ok: outcome.ok, ms: outcome.ms, startedAt, attemptedAt },
  };
  if (outcome.status !== undefined) attempted.data.status = outcome.status;
  if (outcome.error !== undefined) attempted.data.error = outcome.error;
  if (outcome.ok)
    return [
      attempted,
      {
        type: 'WebhookDelivered',
        data: { webhookId, messageId, attempts: attempt, deliveredAt: attemptedAt },
      },
    ];

  const events: WebhookEvent[] = [attempted];
  const firstAttemptAt = open.firstAttemptAt ?? result.startedAt.getTime();
  if (at.getTime() - firstAttemptAt >= schedule.giveUpMs)
    events.push({
      type: 'WebhookDeliveryFailed',
      data: { webhookId, messageId, attempts: attempt, failedAt: attemptedAt },
    });
  else
    attempted.data.nextAttemptAt = dateToIso(new Date(at.getTime() + retryDelay(attempt, schedule, random)));
  // Failing since the start of the first failed attempt after the last success: this one's, if none.
  const failingSince =
    state.failingSince === undefined ? result.startedAt.getTime() : Date.parse(state.failingSince);
  if (state.status === 'ACTIVE' && at.getTime() - failingSince >= schedule.giveUpMs)
    events.push({
      type: 'WebhookDisabled',
      data: {
        webhookId,
        reason: `every delivery failed for ${formatSpan(schedule.giveUpMs)}`,
        disabledAt: attemptedAt,
      },
    });
  return events;
}

const formatSpan = (ms: number): string =>
  ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
