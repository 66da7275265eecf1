// An alert's life: its state folded from its stream, the createAlert/cancelAlert decisions, and their handlers.
import { windowMillis } from '../config.ts';
import { StoreConflict } from '../eventstore/errors.ts';
import { appendToStream, lastEvent, NO_STREAM, readStream, type StoreClient } from '../eventstore/store.ts';
import { levelOf, ruleOf, startsArmed, step } from './conditions.ts';
import type { Ratio } from './crossing.ts';
import { normalizeDecimal, parseScaled, pow10, type Scaled } from './decimal.ts';
import { badInput, DomainError } from './errors.ts';
import {
  parseEvent,
  type AlertCancelled,
  type AlertCreated,
  type AlertEvent,
  type TradeRecorded,
} from './events.ts';
import { parsePosition, positionOrder } from './position.ts';
import { parseTime } from './time.ts';
import {
  ALL_WINDOW,
  alertStream,
  CONDITION_FIELDS,
  CONDITIONS,
  type AlertStatus,
  type Condition,
  type Direction,
  type Measure,
} from './types.ts';

/** An alert as its stream says it is now. */
export interface AlertState {
  created: AlertCreated;
  status: AlertStatus;
  /**
   * A repeat alert disarms when it fires and re-arms when the value leaves the condition; an edge
   * alert (CROSS, ENTER, EXIT) starts disarmed and is disarmed by an edge spent inside its cooldown.
   */
  armed: boolean;
  triggerCount: number;
  lastTriggeredAt?: string;
  /** Time (µs) of the trade that fired it last: where its cooldown starts. */
  lastFiredAt?: number;
  /** Revision of the last event folded in: the expected revision for the next append. */
  revision: bigint;
  /** `$all` order (see position.ts) of the trade behind the newest AlertTriggered/AlertRearmed, from its metadata. */
  lastCause?: bigint;
  /** `$all` order of its AlertCreated: the order of creation, which orders triggers of one trade. */
  createdOrder?: bigint;
}

/** Where an event of an alert's stream sits: its revision and, for trigger/re-arm, the causing trade's position. */
export interface AlertEventMeta {
  revision: bigint;
  cause?: bigint;
  /** The event's own `$all` order, when known (kept for AlertCreated as `createdOrder`). */
  position?: bigint;
}

/**
 * evolve for one alert. Events at or below the revision already folded are ignored, so the reactor can
 * apply its own appends at once and again when the subscription brings them back. `undefined` stands
 * for an event of the stream that is not pricealert's (unknown type, malformed): it changes nothing but
 * the revision, which the next append must expect.
 */
export function evolveAlert(
  state: AlertState | undefined,
  event: AlertEvent | undefined,
  meta: AlertEventMeta,
): AlertState | undefined {
  if (state && meta.revision <= state.revision) return state;
  if (!event) return state && { ...state, revision: meta.revision };
  if (event.type === 'AlertCreated') {
    if (state) return state;
    const created: AlertState = {
      created: event.data,
      status: 'ACTIVE',
      armed: startsArmed(event.data),
      triggerCount: 0,
      revision: meta.revision,
    };
    if (meta.position !== undefined) created.createdOrder = meta.position;
    return created;
  }
  if (!state) return undefined;
  const next: AlertState = { ...state, revision: meta.revision };
  switch (event.type) {
    case 'AlertCancelled':
      if (next.status === 'ACTIVE') next.status = 'CANCELLED';
      break;
    case 'AlertExpired':
      if (next.status === 'ACTIVE') next.status = 'EXPIRED';
      break;
    case 'AlertTriggered':
      next.triggerCount += 1;
      next.lastTriggeredAt = event.data.triggeredAt;
      next.armed = false;
      next.lastFiredAt = parseTime(event.data.trade.time)?.micros;
      if (next.lastFiredAt === undefined) delete next.lastFiredAt;
      if (!next.created.repeat) next.status = 'TRIGGERED';
      if (meta.cause !== undefined) next.lastCause = meta.cause;
      break;
    case 'AlertRearmed':
      next.armed = true;
      if (meta.cause !== undefined) next.lastCause = meta.cause;
      break;
    case 'AlertDisarmed':
      next.armed = false;
      if (meta.cause !== undefined) next.lastCause = meta.cause;
      break;
  }
  return next;
}

export const MAX_ACTIVE_ALERTS_PER_USER = 1000;
export const MAX_NOTE_LENGTH = 280;
export const MAX_THRESHOLD_DECIMALS = 18;
export const MAX_PERCENT_DECIMALS = 8;

export interface CreateAlertCommand {
  alertId: string;
  userId: string;
  product: string;
  /** Default LEVEL. */
  condition?: Condition;
  /** LEVEL, CROSS, MOVE. */
  direction?: Direction;
  /** LEVEL, CROSS. */
  threshold?: string;
  /** MOVE: the move in percent, > 0. */
  percent?: string;
  /** ENTER, EXIT: the range, low < high. */
  low?: string;
  high?: string;
  /** Repeat alerts: a duration such as `5m`. */
  cooldown?: string;
  measure?: Measure;
  window?: string;
  repeat?: boolean;
  rearmBy?: string;
  expiresAt?: string;
  note?: string;
  /** The wall-clock time of the command (`createdAt`). */
  now: string;
}

export interface AlertRules {
  products: readonly string[];
  /** The configured sliding windows; `all` is always accepted. */
  windows: readonly string[];
  /** How many ACTIVE alerts the user has now. */
  activeCount: number;
}

const boundedDecimal = (
  field: string,
  text: string | undefined,
  allowZero: boolean,
  maxDecimals = MAX_THRESHOLD_DECIMALS,
): string => {
  const scaled = text === undefined ? undefined : parseScaled(text);
  if (!scaled) throw badInput(field, 'must be a plain decimal number such as 43250.5');
  if (scaled.units === 0n && !allowZero) throw badInput(field, 'must be greater than 0');
  if (scaled.scale > maxDecimals) throw badInput(field, `must have at most ${maxDecimals} decimal places`);
  return normalizeDecimal(text!)!;
};

/** The condition's fields, checked and normalised, as AlertCreated stores them. */
function conditionFields(
  command: CreateAlertCommand,
): Pick<AlertCreated, 'condition' | 'direction' | 'threshold' | 'percent' | 'low' | 'high' | 'rearmBy'> {
  const condition = command.condition ?? 'LEVEL';
  if (!CONDITIONS.includes(condition)) throw badInput('condition', `must be one of ${CONDITIONS.join(', ')}`);
  const needs: readonly string[] = CONDITION_FIELDS[condition];
  for (const field of ['direction', 'threshold', 'percent', 'low', 'high'] as const) {
    if (command[field] === undefined && needs.includes(field))
      throw badInput(field, `is required for ${condition} alerts`);
    if (command[field] !== undefined && !needs.includes(field))
      throw badInput(field, `is not used by ${condition} alerts`);
  }
  // Only the threshold conditions re-arm past a band; the others re-arm as soon as the condition fails.
  if (command.rearmBy !== undefined && condition !== 'LEVEL' && condition !== 'CROSS')
    throw badInput('rearmBy', `is not used by ${condition} alerts`);
  if (needs.includes('direction') && command.direction !== 'ABOVE' && command.direction !== 'BELOW')
    throw badInput('direction', 'must be ABOVE or BELOW');
  const fields: ReturnType<typeof conditionFields> = {
    rearmBy: boundedDecimal('rearmBy', command.rearmBy ?? '0', true),
  };
  if (condition !== 'LEVEL') fields.condition = condition;
  if (command.direction !== undefined) fields.direction = command.direction;
  if (command.threshold !== undefined)
    fields.threshold = boundedDecimal('threshold', command.threshold, false);
  if (command.percent !== undefined)
    fields.percent = boundedDecimal('percent', command.percent, false, MAX_PERCENT_DECIMALS);
  if (command.low !== undefined) fields.low = boundedDecimal('low', command.low, false);
  if (command.high !== undefined) {
    fields.high = boundedDecimal('high', command.high, false);
    const [low, high] = [parseScaled(fields.low!)!, parseScaled(fields.high)!];
    const scale = Math.max(low.scale, high.scale);
    const scaleUp = (value: Scaled) => value.units * pow10(scale - value.scale);
    if (scaleUp(low) >= scaleUp(high)) throw badInput('high', 'must be greater than low');
  }
  return fields;
}

/** decide(createAlert): one AlertCreated, or a DomainError naming the field (CONTRACT §4 limits). */
export function decideCreateAlert(
  command: CreateAlertCommand,
  state: AlertState | undefined,
  rules: AlertRules,
): AlertCreated[] {
  if (state) throw new DomainError('CONFLICT', `alert ${command.alertId} already exists`);
  if (!rules.products.includes(command.product))
    throw badInput(
      'product',
      `${command.product} is not a configured product (${rules.products.join(', ')})`,
    );
  const fields = conditionFields(command);
  const measure = command.measure ?? 'MEAN';
  if (!['LAST', 'MEAN', 'VWAP'].includes(measure)) throw badInput('measure', 'must be LAST, MEAN or VWAP');
  const window = command.window ?? '10m';
  // LAST ignores the window, so any name is harmless there; MOVE measures over it whatever the measure.
  const windowed = measure !== 'LAST' || fields.condition === 'MOVE';
  if (windowed && window !== ALL_WINDOW && !rules.windows.includes(window)) {
    throw badInput('window', `must be one of ${[...rules.windows, ALL_WINDOW].join(', ')}`);
  }
  const repeat = command.repeat ?? false;
  if (command.cooldown !== undefined) {
    if (!repeat) throw badInput('cooldown', 'is only for repeat alerts');
    if (windowMillis(command.cooldown) === undefined)
      throw badInput('cooldown', 'must be a positive duration such as 30s, 5m or 1h');
  }
  let expiresAt: string | undefined;
  if (command.expiresAt !== undefined) {
    const parsed = parseTime(command.expiresAt);
    const now = parseTime(command.now);
    if (!parsed) throw badInput('expiresAt', 'must be an ISO-8601 time with a zone');
    if (now && parsed.micros <= now.micros) throw badInput('expiresAt', 'must be in the future');
    expiresAt = parsed.iso;
  }
  if (command.note !== undefined && [...command.note].length > MAX_NOTE_LENGTH)
    throw badInput('note', `must be at most ${MAX_NOTE_LENGTH} characters`);
  if (rules.activeCount >= MAX_ACTIVE_ALERTS_PER_USER) {
    throw new DomainError('LIMIT_EXCEEDED', `at most ${MAX_ACTIVE_ALERTS_PER_USER} active alerts per user`);
  }
  const created: AlertCreated = {
    alertId: command.alertId,
    userId: command.userId,
    product: command.product,
    ...fields,
    measure,
    window,
    repeat,
    createdAt: command.now,
  };
  if (command.cooldown !== undefined) created.cooldown = command.cooldown;
  if (expiresAt !== undefined) created.expiresAt = expiresAt;
  if (command.note !== undefined) created.note = command.note;
  return [created];
}

export interface CancelAlertCommand {
  alertId: string;
  userId: string;
  now: string;
}

/**
 * decide(cancelAlert): another user's alert is NOT_FOUND (existence is not leaked); cancelling a
 * cancelled alert again changes nothing; a triggered or expired alert cannot be cancelled (CONFLICT).
 */
export function decideCancelAlert(
  command: CancelAlertCommand,
  state: AlertState | undefined,
): AlertCancelled[] {
  if (!state || state.created.userId !== command.userId)
    throw new DomainError('NOT_FOUND', `alert ${command.alertId} not found`);
  if (state.status === 'CANCELLED') return [];
  if (state.status !== 'ACTIVE')
    throw new DomainError(
      'CONFLICT',
      `alert ${command.alertId} is ${state.status} and can no longer be cancelled`,
    );
  return [{ alertId: command.alertId, userId: command.userId, cancelledAt: command.now }];
}

/** A trade that crossed an alert, as the reactor saw it in `$all`. */
export interface TradeCause {
  trade: TradeRecorded;
  /** Its `$all` order (`positionOrder`): the order in which trades may change alerts. */
  position: bigint;
  /** When the store recorded it (µs): expiry is judged against this, so deciding again later decides the same. */
  recordedAt: number;
  /** The measure's exact value right after it, and that value printed (CONTRACT §3 output). */
  ratio: Ratio;
  value: string;
}

/**
 * decide(trade crossing, alert state) → the one event the trade causes on this alert, if any.
 * Nothing when the alert is no longer ACTIVE or already has a change caused by this trade or a later
 * one (`lastCause`): that makes deciding again — after a conflict, a restart, or on a second reactor —
 * idempotent. An alert whose `expiresAt` had passed when the trade was recorded expires instead.
 */
export function decideOnTrade(state: AlertState, cause: TradeCause, now: string): AlertEvent | undefined {
  if (state.status !== 'ACTIVE') return undefined;
  if (state.lastCause !== undefined && state.lastCause >= cause.position) return undefined;
  const { created } = state;
  const expires = created.expiresAt === undefined ? undefined : parseTime(created.expiresAt);
  if (expires && expires.micros <= cause.recordedAt)
    return { type: 'AlertExpired', data: { alertId: created.alertId, expiredAt: now } };
  const rule = ruleOf(created);
  const { trade } = cause;
  const micros = parseTime(trade.time)?.micros;
  if (!rule || micros === undefined || cause.ratio.den <= 0n) return undefined;
  const decided = step(
    rule,
    { armed: state.armed, lastFired: state.lastFiredAt },
    levelOf(cause.ratio),
    micros,
  );
  if (decided === 'fire') {
    const { alertId, userId, product, measure, window } = created;
    const watched: Partial<AlertCreated> = {};
    for (const field of ['condition', 'direction', 'threshold', 'percent', 'low', 'high'] as const)
      if (created[field] !== undefined) Object.assign(watched, { [field]: created[field] });
    return {
      type: 'AlertTriggered',
      data: {
        alertId,
        userId,
        product,
        ...watched,
        measure,
        window,
        value: cause.value,
        trade: {
          tradeId: trade.tradeId,
          price: trade.price,
          size: trade.size,
          side: trade.side,
          time: trade.time,
        },
        triggeredAt: now,
      },
    };
  }
  if (decided === 'rearm') {
    return {
      type: 'AlertRearmed',
      data: { alertId: created.alertId, value: cause.value, tradeId: trade.tradeId, rearmedAt: now },
    };
  }
  if (decided === 'disarm') {
    return {
      type: 'AlertDisarmed',
      data: { alertId: created.alertId, value: cause.value, tradeId: trade.tradeId, disarmedAt: now },
    };
  }
  return undefined;
}

/** An alert's stream from `fromRevision` on, parsed; an event that is not an alert event comes as `event: undefined`. */
export async function* readAlertEvents(
  client: StoreClient,
  alertId: string,
  fromRevision = 0n,
): AsyncGenerator<{ event: AlertEvent | undefined } & AlertEventMeta> {
  for await (const recorded of readStream(client, alertStream(alertId), { fromRevision })) {
    const parsed = recorded.isJson ? parseEvent(recorded.type, recorded.data) : undefined;
    const event =
      parsed?.ok && parsed.event.type !== 'TradeRecorded' && parsed.event.data.alertId === alertId
        ? parsed.event
        : undefined;
    const meta: AlertEventMeta = { revision: recorded.revision };
    const cause = causeOf(recorded.metadata);
    if (cause !== undefined) meta.cause = cause;
    if (recorded.position) meta.position = positionOrder(recorded.position);
    yield { event, ...meta };
  }
}

/** Reads an alert's stream past `state` (from the start without one) and folds it on. */
export async function readAlert(
  client: StoreClient,
  alertId: string,
  state?: AlertState,
): Promise<AlertState | undefined> {
  let current = state;
  for await (const { event, ...meta } of readAlertEvents(client, alertId, state ? state.revision + 1n : 0n))
    current = evolveAlert(current, event, meta);
  return current;
}

/** The `$all` order of the trade behind a trigger or re-arm, from the `tradePosition` the reactor writes into the metadata. */
export function causeOf(metadata: unknown): bigint | undefined {
  const position = parsePosition((metadata as { tradePosition?: unknown } | null | undefined)?.tradePosition);
  return position && positionOrder(position);
}

/** The event that takes one of a user's active-alert slots, in the user's claim stream. */
export const ALERT_CLAIMED = 'AlertClaimed';
const CLAIMS_PREFIX = 'user-alerts-';
export const alertClaimsStream = (userId: string): string => `${CLAIMS_PREFIX}${userId}`;
/** A claim whose alert was never created (its creator died in between) stops counting after this. */
export const CLAIM_TTL_MS = 30_000;
/** Tries at the claim before giving up when other processes keep claiming for the same user. */
const MAX_CLAIM_ATTEMPTS = 50;

/**
 * Runs `claim` — count what the user has, then append a claim at the revision counted at — until the
 * append is not refused by a conflict (another process claimed meanwhile), at most MAX_CLAIM_ATTEMPTS
 * times; `what` names the things claimed in the CONFLICT error after that.
 */
export async function claimUntilAccepted(what: string, claim: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await claim();
      return;
    } catch (error) {
      if (!(error instanceof StoreConflict)) throw error;
      if (attempt >= MAX_CLAIM_ATTEMPTS)
        throw new DomainError(
          'CONFLICT',
          `too many ${what} are being created at once for this user; try again`,
        );
    }
  }
}

/** The alert an AlertClaimed event claims, if it is one and sits in its user's claim stream. */
export function parseAlertClaimed(
  streamId: string,
  data: unknown,
): { userId: string; alertId: string } | undefined {
  const claimed = data as { userId?: unknown; alertId?: unknown } | null;
  if (typeof claimed?.userId !== 'string' || typeof claimed.alertId !== 'string') return undefined;
  return streamId === alertClaimsStream(claimed.userId)
    ? { userId: claimed.userId, alertId: claimed.alertId }
    : undefined;
}

/** What createAlert needs of a read model that folds `$all` (the reactor's). */
export interface ActiveAlertCounter {
  /** Resolves once every event up to this `$all` commit position is folded. */
  caughtUpTo(commit: bigint): Promise<void>;
  /** The user's ACTIVE alerts plus claims not yet created and made at or after `since` (µs). */
  activeAlerts(userId: string, since: number): number;
}

/**
 * Handler: creates the alert (its stream must not exist yet) and returns its state with the `$all`
 * commit position of its AlertCreated.
 *
 * The per-user limit is one decision in the store, not a count read before an append: the alert first
 * takes a slot in the user's claim stream with the expected revision at which the count was made, so
 * two creates that counted the same alerts cannot both claim (one gets a StoreConflict, counts
 * again and decides again), on one API process or many. Only then is AlertCreated appended. Without
 * `counter` (tools and tests seeding alerts) there is no claim and no limit.
 */
export async function createAlert(
  client: StoreClient,
  command: CreateAlertCommand,
  rules: Omit<AlertRules, 'activeCount'>,
  counter?: ActiveAlertCounter,
): Promise<{ state: AlertState; commit: bigint }> {
  // Input errors first, before touching the store.
  const [created] = decideCreateAlert(command, undefined, { ...rules, activeCount: 0 });
  const stream = alertClaimsStream(command.userId);
  // Without a counter (tools and tests that seed alerts) the limit is not checked.
  if (counter)
    await claimUntilAccepted('alerts', async () => {
      const last = await lastEventOf(client, stream);
      if (last) await counter.caughtUpTo(last.commit);
      const since = (Date.parse(command.now) - CLAIM_TTL_MS) * 1000;
      decideCreateAlert(command, undefined, {
        ...rules,
        activeCount: counter.activeAlerts(command.userId, since),
      });
      await appendToStream(
        client,
        stream,
        {
          type: ALERT_CLAIMED,
          data: { alertId: command.alertId, userId: command.userId, claimedAt: command.now },
        },
        { expectedRevision: last ? last.revision : NO_STREAM },
      );
    });
  let commit: bigint;
  try {
    const result = await appendToStream(
      client,
      alertStream(command.alertId),
      { type: 'AlertCreated', data: created! },
      { expectedRevision: NO_STREAM },
    );
    commit = result.position?.commit ?? 0n;
  } catch (error) {
    if (error instanceof StoreConflict)
      throw new DomainError('CONFLICT', `alert ${command.alertId} already exists`);
    throw error;
  }
  return {
    state: evolveAlert(undefined, { type: 'AlertCreated', data: created! }, { revision: 0n })!,
    commit,
  };
}

/** The revision and commit position of a stream's last event; undefined when it has none. */
async function lastEventOf(
  client: StoreClient,
  stream: string,
): Promise<{ revision: bigint; commit: bigint } | undefined> {
  const recorded = await lastEvent(client, stream);
  return recorded && { revision: recorded.revision, commit: recorded.position?.commit ?? 0n };
}

/**
 * Handler: cancels the alert at the revision it was read at; returns its state and the commit position
 * of the AlertCancelled (none when it was cancelled already). When the reactor appended in between
 * (a trigger or re-arm), the alert is read again and the decision made again, so a cancel never lands
 * on an alert that already triggered for good.
 */
export async function cancelAlert(
  client: StoreClient,
  command: CancelAlertCommand,
): Promise<{ state: AlertState; commit?: bigint }> {
  let state = await readAlert(client, command.alertId);
  for (let attempt = 0; ; attempt += 1) {
    const events = decideCancelAlert(command, state);
    if (events.length === 0) return { state: state! };
    try {
      const result = await appendToStream(
        client,
        alertStream(command.alertId),
        events.map((data) => ({ type: 'AlertCancelled', data })),
        {
          expectedRevision: state!.revision,
        },
      );
      const cancelled = evolveAlert(
        state,
        { type: 'AlertCancelled', data: events[0]! },
        { revision: state!.revision + 1n },
      )!;
      return result.position ? { state: cancelled, commit: result.position.commit } : { state: cancelled };
    } catch (error) {
      if (!(error instanceof StoreConflict) || attempt >= 5) throw error;
      state = await readAlert(client, command.alertId, state);
    }
  }
}
