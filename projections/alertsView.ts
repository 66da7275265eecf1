// alertsView: every alert by id and by user, as the API shows it. Pure fold over alert stream events.
import { evolveAlert, type AlertEventMeta, type AlertState } from '../src/domain/alerts.ts';
import type { AlertEvent } from '../src/domain/events.ts';
import type { AlertStatus, Condition, Direction, Measure } from '../src/domain/types.ts';

/** An alert as the API's `Alert` type shows it; each condition has only the fields it uses. */
export interface AlertView {
  id: string;
  userId: string;
  product: string;
  condition: Condition;
  direction?: Direction;
  threshold?: string;
  percent?: string;
  low?: string;
  high?: string;
  cooldown?: string;
  measure: Measure;
  window: string;
  repeat: boolean;
  rearmBy: string;
  status: AlertStatus;
  armed: boolean;
  createdAt: string;
  triggerCount: number;
  lastTriggeredAt?: string;
  expiresAt?: string;
  note?: string;
}

export interface AlertsViewState {
  byId: Map<string, AlertState>;
  byUser: Map<string, Set<string>>;
  activeByUser: Map<string, number>;
  /**
   * Alerts claimed in a user's claim stream whose AlertCreated has not been folded yet, with when they
   * were claimed (µs): they count against the user's active-alert limit until created or abandoned.
   */
  claims: Map<string, Map<string, number>>;
}

export function initialState(): AlertsViewState {
  return { byId: new Map(), byUser: new Map(), activeByUser: new Map(), claims: new Map() };
}

/** Folds an AlertClaimed: the alert counts as active for its user from now until it is created. */
export function claim(
  view: AlertsViewState,
  claimed: { userId: string; alertId: string; at: number },
): AlertsViewState {
  if (view.byId.has(claimed.alertId)) return view;
  const claims = view.claims.get(claimed.userId) ?? new Map<string, number>();
  view.claims.set(claimed.userId, claims);
  claims.set(claimed.alertId, claimed.at);
  return view;
}

/** Claims of a user not yet created, made at or after `since` (µs); older ones count as abandoned. */
export function openClaims(view: AlertsViewState, userId: string, since: number): number {
  let open = 0;
  for (const at of view.claims.get(userId)?.values() ?? []) if (at >= since) open += 1;
  return open;
}

/**
 * An event of alert `alertId`'s stream with where it sits (revision; causing trade's position for
 * triggers and re-arms). `event` is undefined for one that is not an alert event: it only moves the revision.
 */
export interface AlertEnvelope extends AlertEventMeta {
  alertId: string;
  event: AlertEvent | undefined;
}

/** Folds one event in; an event at or below the alert's known revision is a no-op (see evolveAlert). */
export function evolve(view: AlertsViewState, envelope: AlertEnvelope): AlertsViewState {
  const alertId = envelope.alertId;
  const before = view.byId.get(alertId);
  const after = evolveAlert(before, envelope.event, envelope);
  if (!after || after === before) return view;
  view.byId.set(alertId, after);
  const userId = after.created.userId;
  if (!before) {
    const ids = view.byUser.get(userId) ?? new Set<string>();
    ids.add(alertId);
    view.byUser.set(userId, ids);
    const claims = view.claims.get(userId);
    if (claims?.delete(alertId) && claims.size === 0) view.claims.delete(userId);
  }
  const delta = (after.status === 'ACTIVE' ? 1 : 0) - (before?.status === 'ACTIVE' ? 1 : 0);
  if (delta !== 0) view.activeByUser.set(userId, (view.activeByUser.get(userId) ?? 0) + delta);
  return view;
}

/** Every alert's state, oldest first: what the reactor's snapshot keeps of this view. */
export const snapshot = (view: AlertsViewState): AlertState[] => [...view.byId.values()];

/** The view a {@link snapshot} was taken of. */
export function restore(states: readonly AlertState[]): AlertsViewState {
  const view = initialState();
  for (const state of states) {
    const { alertId, userId } = state.created;
    view.byId.set(alertId, state);
    const ids = view.byUser.get(userId) ?? new Set<string>();
    ids.add(alertId);
    view.byUser.set(userId, ids);
    if (state.status === 'ACTIVE') view.activeByUser.set(userId, (view.activeByUser.get(userId) ?? 0) + 1);
  }
  return view;
}

export function toAlertView(state: AlertState): AlertView {
  const { alertId, ...created } = state.created;
  const view: AlertView = {
    id: alertId,
    ...created,
    condition: created.condition ?? 'LEVEL',
    status: state.status,
    armed: state.status === 'ACTIVE' && state.armed,
    triggerCount: state.triggerCount,
  };
  if (state.lastTriggeredAt !== undefined) view.lastTriggeredAt = state.lastTriggeredAt;
  return view;
}

export function alert(view: AlertsViewState, alertId: string): AlertView | undefined {
  const state = view.byId.get(alertId);
  return state && toAlertView(state);
}

export interface AlertsPage {
  status?: AlertStatus;
  /** The id of the last alert of the previous page: the page starts after it. */
  after?: string;
  first?: number;
}

/**
 * A user's alerts, oldest first, optionally of one status, a page at a time. `undefined` when `after`
 * is not one of the user's alerts.
 */
export function alertsOf(
  view: AlertsViewState,
  userId: string,
  page: AlertsPage = {},
): AlertView[] | undefined {
  const ids = view.byUser.get(userId);
  const { status, after, first = Infinity } = page;
  if (after !== undefined && !ids?.has(after)) return undefined;
  const result: AlertView[] = [];
  let started = after === undefined;
  for (const alertId of ids ?? []) {
    if (result.length >= first) break;
    if (!started) {
      started = alertId === after;
      continue;
    }
    const state = view.byId.get(alertId);
    if (state && (status === undefined || state.status === status)) result.push(toAlertView(state));
  }
  return result;
}

export const activeAlertCount = (view: AlertsViewState, userId: string): number =>
  view.activeByUser.get(userId) ?? 0;
