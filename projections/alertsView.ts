// alertsView: every alert by id and by user, as the API shows it. Pure fold over alert stream events.
import { evolveAlert, type AlertEventMeta, type AlertState } from '../src/domain/alerts.ts';
import type { AlertEvent } from '../src/domain/events.ts';
import type { AlertStatus, Direction, Measure } from '../src/domain/types.ts';

/** An alert as the API's `Alert` type shows it. */
export interface AlertView {
  id: string;
  userId: string;
  product: string;
  direction: Direction;
  threshold: string;
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
}

export function initialState(): AlertsViewState {
  return { byId: new Map(), byUser: new Map(), activeByUser: new Map() };
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

/** A user's alerts, oldest first, optionally of one status. */
export function alertsOf(view: AlertsViewState, userId: string, status?: AlertStatus): AlertView[] {
  const result: AlertView[] = [];
  for (const alertId of view.byUser.get(userId) ?? []) {
    const state = view.byId.get(alertId);
    if (state && (status === undefined || state.status === status)) result.push(toAlertView(state));
  }
  return result;
}

export const activeAlertCount = (view: AlertsViewState, userId: string): number =>
  view.activeByUser.get(userId) ?? 0;
