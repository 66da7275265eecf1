// The one decision of what a trade does to an alert, for every condition (README "Conditions"): the
// alert book (live and backtest) and the reactor's decideOnTrade (deciding again against the alert's
// stream) both call `step`, so they cannot disagree.
//
// Every condition is a two-phase machine. Armed, it fires when the value meets the condition; fired, a
// repeat alert is disarmed until the value leaves the condition (past `rearmBy` for LEVEL and CROSS),
// which re-arms it. LEVEL and MOVE start armed. The edge conditions (CROSS, ENTER, EXIT) start
// disarmed: the first value only tells on which side the alert starts (re-armed if on the far side),
// so only a fresh edge fires. The phase lives in the alert's stream (AlertTriggered, AlertRearmed,
// AlertDisarmed), and the cooldown's start is the time of the last AlertTriggered's trade, so the
// decision is a pure function of the alert's stream and the trade.
import { windowMillis } from '../config.ts';
import { alertKeys, scaledNumerator, type Ratio } from './crossing.ts';
import { parseScaled, pow10 } from './decimal.ts';
import type { AlertCreated } from './events.ts';
import type { Condition, Direction, Measure } from './types.ts';

/** The fields of AlertCreated that say when an alert fires. */
export type ConditionFields = Pick<
  AlertCreated,
  'condition' | 'direction' | 'threshold' | 'percent' | 'low' | 'high' | 'rearmBy' | 'measure' | 'cooldown'
>;

/** An alert's condition compiled to exact keys (decimals scaled by 10^18, as in crossing.ts). */
export interface Rule {
  condition: Condition;
  /** CROSS, ENTER, EXIT: start disarmed, and a spent edge inside the cooldown disarms. */
  edge: boolean;
  direction: Direction;
  /** LEVEL, CROSS: the threshold; MOVE: +percent for ABOVE, −percent for BELOW. */
  key: bigint;
  /** Where a disarmed LEVEL/CROSS/MOVE alert re-arms (see `rearms`). */
  rearmKey: bigint;
  /** ENTER, EXIT: the range, inclusive. */
  low: bigint;
  high: bigint;
  /** µs of trade time after a firing during which the alert cannot fire again. */
  cooldown?: number;
}

const KEY_DECIMALS = 18;
const keyOf = (text: string | undefined): bigint | undefined => {
  const scaled = text === undefined ? undefined : parseScaled(text);
  if (!scaled || scaled.scale > KEY_DECIMALS) return undefined;
  return scaled.units * pow10(KEY_DECIMALS - scaled.scale);
};

const EDGES: readonly Condition[] = ['CROSS', 'ENTER', 'EXIT'];

/** Whether an alert starts armed: all but the edge conditions, whose first value only sets the side. */
export const startsArmed = (alert: Pick<ConditionFields, 'condition'>): boolean =>
  !EDGES.includes(alert.condition ?? 'LEVEL');

/** The value an alert compares: its measure, or for MOVE the move in percent over its window. */
export type Watched = Measure | 'MOVE';
export const watchedValue = (alert: Pick<ConditionFields, 'condition' | 'measure'>): Watched =>
  alert.condition === 'MOVE' ? 'MOVE' : alert.measure;

/** The alert's rule; `undefined` when its decimals are not plain ones of at most 18 places (it can never fire). */
export function ruleOf(alert: ConditionFields): Rule | undefined {
  const condition = alert.condition ?? 'LEVEL';
  const cooldownMs = alert.cooldown === undefined ? undefined : windowMillis(alert.cooldown);
  if (alert.cooldown !== undefined && cooldownMs === undefined) return undefined;
  const rule: Rule = {
    condition,
    edge: !startsArmed(alert),
    direction: alert.direction ?? 'ABOVE',
    key: 0n,
    rearmKey: 0n,
    low: 0n,
    high: 0n,
  };
  if (cooldownMs !== undefined) rule.cooldown = cooldownMs * 1000;
  if (condition === 'LEVEL' || condition === 'CROSS') {
    if (!alert.direction || alert.threshold === undefined) return undefined;
    const keys = alertKeys({
      direction: alert.direction,
      threshold: alert.threshold,
      rearmBy: alert.rearmBy,
    });
    if (!keys) return undefined;
    rule.key = keys.key;
    rule.rearmKey = keys.rearmKey;
  } else if (condition === 'MOVE') {
    const percent = keyOf(alert.percent);
    if (!alert.direction || percent === undefined) return undefined;
    rule.key = alert.direction === 'ABOVE' ? percent : -percent;
    rule.rearmKey = rule.key;
  } else {
    const low = keyOf(alert.low);
    const high = keyOf(alert.high);
    if (low === undefined || high === undefined) return undefined;
    rule.low = low;
    rule.high = high;
  }
  return rule;
}

/**
 * A value as the keys are scaled (×10^18), rounded down and up: computed once per value, after which
 * every comparison with a key is exact without a multiplication — for an integer key K, `v ≥ K` iff
 * `floor(v) ≥ K`, and `v ≤ K` iff `ceil(v) ≤ K`.
 */
export interface Level {
  floor: bigint;
  ceil: bigint;
}

export function levelOf(ratio: Ratio, numerator = scaledNumerator(ratio)): Level {
  const quotient = numerator / ratio.den;
  const remainder = numerator % ratio.den;
  // BigInt division truncates toward zero; den > 0, so a negative remainder means a negative value.
  const floor = remainder < 0n ? quotient - 1n : quotient;
  return { floor, ceil: remainder === 0n ? floor : floor + 1n };
}

const atLeast = (value: Level, key: bigint): boolean => value.floor >= key;
const atMost = (value: Level, key: bigint): boolean => value.ceil <= key;
const inside = (rule: Rule, value: Level): boolean => atLeast(value, rule.low) && atMost(value, rule.high);

/** Whether the value meets the condition (what fires an armed alert): `fires` in crossing.ts, for every condition. */
function meets(rule: Rule, value: Level): boolean {
  switch (rule.condition) {
    case 'ENTER':
      return inside(rule, value);
    case 'EXIT':
      return !inside(rule, value);
    default:
      return rule.direction === 'ABOVE' ? atLeast(value, rule.key) : atMost(value, rule.key);
  }
}

/** Whether the value has left the condition (what re-arms a disarmed alert): `rearms` in crossing.ts, for every condition. */
function leaves(rule: Rule, value: Level): boolean {
  switch (rule.condition) {
    case 'ENTER':
      return !inside(rule, value);
    case 'EXIT':
      return inside(rule, value);
    default:
      // ABOVE: value < rearmKey; BELOW: value > rearmKey.
      return rule.direction === 'ABOVE' ? !atLeast(value, rule.rearmKey) : !atMost(value, rule.rearmKey);
  }
}

/** Where an alert stands: armed or not, and the trade time (µs) of its last firing. */
export interface Phase {
  armed: boolean;
  lastFired?: number | undefined;
}

/** What one trade does to an alert: at most one of these. */
export type Step = 'fire' | 'rearm' | 'disarm';

/**
 * The decision. Armed and meeting the condition: fire — unless the trade's time is less than the
 * cooldown after the last firing trade's, when a level (LEVEL, MOVE) waits, still armed, and an edge
 * is spent (disarm). Disarmed and leaving the condition: re-arm.
 */
export function step(rule: Rule, phase: Phase, value: Level, tradeMicros: number): Step | undefined {
  if (!phase.armed) return leaves(rule, value) ? 'rearm' : undefined;
  if (!meets(rule, value)) return undefined;
  if (
    rule.cooldown !== undefined &&
    phase.lastFired !== undefined &&
    tradeMicros - phase.lastFired < rule.cooldown
  )
    return rule.edge ? 'disarm' : undefined;
  return 'fire';
}

/**
 * Whether the alert book can keep this rule in its threshold heaps (one comparison per trade for all
 * of them): a single threshold and no cooldown. The others are checked one by one with {@link step}.
 */
export const heapable = (rule: Rule): boolean =>
  rule.cooldown === undefined &&
  (rule.condition === 'LEVEL' || rule.condition === 'CROSS' || rule.condition === 'MOVE');
