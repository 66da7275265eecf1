// Alerts and triggers: the caller's own only; another user's alert is NOT_FOUND, never FORBIDDEN.
import { randomUUID } from 'node:crypto';
import { toAlertView, type AlertView } from '../../../projections/alertsView.ts';
import type { TriggerEntry } from '../../../projections/triggerLog.ts';
import { cancelAlert, createAlert, readAlert } from '../../domain/alerts.ts';
import { dateToIso } from '../../domain/time.ts';
import type { AlertStatus, Condition, Direction, Measure } from '../../domain/types.ts';
import { requireViewer, type ApiContext } from '../context.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { badInput, userError } from '../errors.ts';
import { untilReady } from '../readiness.ts';
import { checkPageSize } from './market.ts';
import type { ApiServices } from './services.ts';

interface CreateAlertInput {
  product: string;
  condition: Condition;
  direction?: Direction | null;
  threshold?: string | null;
  percent?: string | null;
  low?: string | null;
  high?: string | null;
  cooldown?: string | null;
  measure: Measure;
  window: string;
  repeat: boolean;
  rearmBy?: string | null;
  expiresAt?: string | null;
  note?: string | null;
}

const orUndefined = <T>(value: T | null | undefined): T | undefined => value ?? undefined;

/** What an alert id can be (createAlert gives out UUIDs); anything else is refused before any lookup. */
const ALERT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const checkAlertId = (id: string, field: string): void => {
  if (!ALERT_ID.test(id)) throw badInput(field, 'is not an alert id');
};

/** Runs one user's creates one after another in this process, so they do not race each other for the claim. */
function perUserQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(userId: string, work: () => Promise<T>): Promise<T> => {
    const run = (tails.get(userId) ?? Promise.resolve()).then(work);
    const tail = run.catch(() => undefined);
    tails.set(userId, tail);
    void tail.then(() => {
      if (tails.get(userId) === tail) tails.delete(userId);
    });
    return run;
  };
}

export function alertResolvers(services: ApiServices) {
  const { client, reactor, triggers } = services;
  const oneAtATime = perUserQueue();
  const counter = {
    caughtUpTo: (commit: bigint) => reactor.caughtUpTo(commit),
    activeAlerts: (userId: string, since: number) =>
      reactor.views.activeAlertCount(userId) + reactor.views.openClaims(userId, since),
  };

  /** The alert if it is the user's; read from the store when this process has not folded it (yet). */
  const ownAlert = async (userId: string, alertId: string): Promise<AlertView | undefined> => {
    let view = reactor.views.alert(alertId);
    if (!view) {
      const state = await readAlert(client, alertId);
      view = state && toAlertView(state);
    }
    return view?.userId === userId ? view : undefined;
  };

  /** A released trigger as the API shows it; the alerts view already holds its change. */
  const triggerView = (userId: string) => (entry: TriggerEntry) => {
    const { event } = entry;
    const alert = reactor.views.alert(event.alertId);
    if (alert?.userId !== userId) throw userError('NOT_FOUND', 'alert not found');
    return {
      cursor: encodeCursor(userId, entry.key),
      alert,
      value: event.value,
      trade: { ...event.trade, product: event.product },
      triggeredAt: event.triggeredAt,
    };
  };

  const cursorArg = (userId: string, after: string | null | undefined) => {
    if (after === null || after === undefined) return undefined;
    const decoded = decodeCursor(userId, after);
    if (!decoded.ok) throw badInput('after', decoded.reason);
    return decoded.key;
  };

  return {
    Query: {
      alerts: (
        _: unknown,
        args: { status?: AlertStatus | null; first: number; after?: string | null },
        context: ApiContext,
      ) => {
        const { userId } = requireViewer(context);
        checkPageSize(services, args.first, 'first');
        if (args.after) checkAlertId(args.after, 'after');
        const page = reactor.views.alertsOf(userId, {
          status: orUndefined(args.status),
          after: orUndefined(args.after),
          first: args.first,
        });
        if (!page) throw badInput('after', 'is not the id of one of your alerts');
        return page;
      },
      alert: async (_: unknown, args: { id: string }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        checkAlertId(args.id, 'id');
        return (await ownAlert(userId, args.id)) ?? null;
      },
      triggers: (_: unknown, args: { after?: string | null; first: number }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        const after = cursorArg(userId, args.after);
        checkPageSize(services, args.first, 'first');
        return triggers.list(userId, after, args.first).map(triggerView(userId));
      },
    },
    Mutation: {
      createAlert: (_: unknown, args: { input: CreateAlertInput }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        const { input } = args;
        const command = {
          alertId: randomUUID(),
          userId,
          product: input.product,
          condition: input.condition,
          direction: orUndefined(input.direction),
          threshold: orUndefined(input.threshold),
          percent: orUndefined(input.percent),
          low: orUndefined(input.low),
          high: orUndefined(input.high),
          cooldown: orUndefined(input.cooldown),
          measure: input.measure,
          window: input.window,
          repeat: input.repeat,
          rearmBy: orUndefined(input.rearmBy),
          expiresAt: orUndefined(input.expiresAt),
          note: orUndefined(input.note),
          now: dateToIso(new Date()),
        };
        const rules = {
          products: services.config.PRICEALERT_PRODUCTS,
          windows: services.config.PRICEALERT_WINDOWS,
        };
        return oneAtATime(userId, async () => {
          const { state, commit } = await createAlert(client, command, rules, counter);
          // Read your writes: the next `alerts` query and the limit count include this alert.
          await reactor.caughtUpTo(commit);
          return toAlertView(state);
        });
      },
      cancelAlert: async (_: unknown, args: { id: string }, context: ApiContext) => {
        const { userId } = requireViewer(context);
        checkAlertId(args.id, 'id');
        const { state, commit } = await cancelAlert(client, {
          alertId: args.id,
          userId,
          now: dateToIso(new Date()),
        });
        if (commit !== undefined) await reactor.caughtUpTo(commit);
        return toAlertView(state);
      },
    },
    Subscription: {
      alertTriggered: {
        subscribe: async (_: unknown, args: { after?: string | null }, context: ApiContext) => {
          const { userId } = requireViewer(context);
          const after = cursorArg(userId, args.after);
          await untilReady(reactor);
          return triggers.follow(userId, after, context.outlet);
        },
        resolve: (entry: TriggerEntry, _: unknown, context: ApiContext) =>
          triggerView(requireViewer(context).userId)(entry),
      },
    },
  };
}
