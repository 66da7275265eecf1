// Alerts and triggers: the caller's own only; another user's alert is NOT_FOUND, never FORBIDDEN.
import { randomUUID } from 'node:crypto';
import { toAlertView, type AlertView } from '../../../projections/alertsView.ts';
import { cancelAlert, createAlert, readAlert } from '../../domain/alerts.ts';
import { dateToIso } from '../../domain/time.ts';
import type { AlertStatus, Direction, Measure } from '../../domain/types.ts';
import { followInto } from '../channel.ts';
import { requireViewer, type ApiContext } from '../context.ts';
import { decodeCursor } from '../cursor.ts';
import { badInput, userError } from '../errors.ts';
import type { TriggerRecord } from '../triggerLog.ts';
import { checkPageSize } from './market.ts';
import type { ApiServices } from './services.ts';

interface CreateAlertInput {
  product: string;
  direction: Direction;
  threshold: string;
  measure: Measure;
  window: string;
  repeat: boolean;
  rearmBy?: string | null;
  expiresAt?: string | null;
  note?: string | null;
}

/** How long a trigger waits for the reactor's read model before the alert is read from the store. */
const TRIGGER_WAIT_MS = 50;
/** How long a mutation waits for the reactor's read model to show it, so the caller reads its own write. */
const WRITE_WAIT_MS = 1_000;

const orUndefined = <T>(value: T | null | undefined): T | undefined => value ?? undefined;

export function alertResolvers(services: ApiServices) {
  const { client, reactor, triggers } = services;

  /**
   * The reactor's view of an alert once `current(view)` holds, waiting up to `waitMs` for the reactor
   * to fold a change of that alert: it does so a moment after the store has it, whether this process
   * wrote it (a mutation) or the trigger subscription delivered it first.
   */
  const viewWhen = async (
    alertId: string,
    current: (view: AlertView | undefined) => boolean,
    waitMs: number,
  ): Promise<AlertView | undefined> => {
    const view = reactor.views.alert(alertId);
    if (current(view) || waitMs <= 0) return view;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        stopListening();
        resolve(reactor.views.alert(alertId));
      };
      const timer = setTimeout(finish, waitMs);
      const stopListening = reactor.onAlertChange((changed) => {
        if (changed === alertId && current(reactor.views.alert(alertId))) finish();
      });
    });
  };

  /**
   * The alert if it is the user's, at least as new as its `seenTriggers`-th trigger; read from the
   * store when the read model does not have it (yet).
   */
  const ownAlert = async (
    userId: string,
    alertId: string,
    seenTriggers = 0,
  ): Promise<AlertView | undefined> => {
    const current = (view: AlertView | undefined) => view !== undefined && view.triggerCount >= seenTriggers;
    let view = await viewWhen(alertId, current, seenTriggers > 0 ? TRIGGER_WAIT_MS : 0);
    if (!current(view)) {
      const state = await readAlert(client, alertId);
      view = state && toAlertView(state);
    }
    return view?.userId === userId ? view : undefined;
  };

  const triggerView = (userId: string) => async (record: TriggerRecord) => {
    const { event } = record;
    const alert = await ownAlert(userId, event.alertId, record.ordinal);
    if (!alert) throw userError('NOT_FOUND', `alert ${event.alertId} not found`);
    return {
      cursor: record.cursor,
      alert,
      value: event.value,
      trade: { ...event.trade, product: event.product },
      triggeredAt: event.triggeredAt,
    };
  };

  const cursorArg = (after: string | null | undefined) => {
    if (after === null || after === undefined) return undefined;
    const position = decodeCursor(after);
    if (!position) throw badInput('after', 'is not a cursor this server gave out');
    return position;
  };

  return {
    Query: {
      alerts: (_: unknown, args: { status?: AlertStatus | null }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        return reactor.views.alertsOf(userId, orUndefined(args.status));
      },
      alert: async (_: unknown, args: { id: string }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        return (await ownAlert(userId, args.id)) ?? null;
      },
      triggers: async (_: unknown, args: { after?: string | null; first: number }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        const after = cursorArg(args.after);
        checkPageSize(services, args.first, 'first');
        await triggers.ready;
        return Promise.all((await triggers.list(userId, after, args.first)).map(triggerView(userId)));
      },
    },
    Mutation: {
      createAlert: async (_: unknown, args: { input: CreateAlertInput }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        const { input } = args;
        const state = await createAlert(
          client,
          {
            alertId: randomUUID(),
            userId,
            product: input.product,
            direction: input.direction,
            threshold: input.threshold,
            measure: input.measure,
            window: input.window,
            repeat: input.repeat,
            rearmBy: orUndefined(input.rearmBy),
            expiresAt: orUndefined(input.expiresAt),
            note: orUndefined(input.note),
            now: dateToIso(new Date()),
          },
          {
            products: services.config.PRICEALERT_PRODUCTS,
            windows: services.config.PRICEALERT_WINDOWS,
            activeCount: reactor.views.activeAlertCount(userId),
          },
        );
        await viewWhen(state.created.alertId, (view) => view !== undefined, WRITE_WAIT_MS);
        return toAlertView(state);
      },
      cancelAlert: async (_: unknown, args: { id: string }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        const state = await cancelAlert(client, { alertId: args.id, userId, now: dateToIso(new Date()) });
        await viewWhen(args.id, (view) => view?.status !== 'ACTIVE', WRITE_WAIT_MS);
        return toAlertView(state);
      },
    },
    Subscription: {
      alertTriggered: {
        subscribe: (_: unknown, args: { after?: string | null }, context: ApiContext) => {
          const { userId } = requireViewer(context);
          const after = cursorArg(args.after);
          return followInto<TriggerRecord>(context.outlet, (channel) =>
            triggers.follow(
              userId,
              after,
              (record) => channel.push(record),
              (error) => channel.end(error),
            ),
          );
        },
        resolve: (record: TriggerRecord, _: unknown, context: ApiContext) =>
          triggerView(requireViewer(context).userId)(record),
      },
    },
  };
}
