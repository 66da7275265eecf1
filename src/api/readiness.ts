// Ready before answering: until the reactor's projections have caught up with the store, operations
// that read them would see a partial picture (part of a user's alerts, a low active-alert count).
// Queries and mutations that need them are refused at once with UNAVAILABLE (HTTP 503, or an `error`
// message over WebSocket), so clients retry; subscriptions wait for readiness (bounded), so a client
// that reconnects to a restarting server simply gets its stream once the server is ready.
// Fields that read only the store or the configuration answer at any time.
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Reactor } from '../runtime/reactor.ts';

/** Root fields that do not read the projections. */
const ANSWERS_BEFORE_READY = new Set([
  'products',
  'trades',
  'backtest',
  'recordTrade',
  // Webhooks read their endpoint streams, not the projections.
  'webhooks',
  'webhook',
  'webhookDeliveries',
  'createWebhook',
  'pauseWebhook',
  'resumeWebhook',
  'deleteWebhook',
  'testWebhook',
  '__schema',
  '__type',
  '__typename',
]);

/** How long a subscription waits for the projections before it fails with UNAVAILABLE. */
export const SUBSCRIPTION_READY_WAIT_MS = 60_000;

export const unavailable = (reason: string) =>
  createGraphQLError(`not ready: ${reason}; try again shortly`, {
    extensions: { code: 'UNAVAILABLE', http: { status: 503, headers: { 'retry-after': '1' } } },
  });

function needsProjections(document: DocumentNode): boolean {
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  return operations.some(
    (operation) =>
      operation.operation !== 'subscription' &&
      operation.selectionSet.selections.some(
        (selection) => selection.kind !== Kind.FIELD || !ANSWERS_BEFORE_READY.has(selection.name.value),
      ),
  );
}

/** UNAVAILABLE for an operation that reads the projections while they are still catching up. */
export function notReady(reactor: Reactor, document: DocumentNode) {
  return !reactor.status().ready && needsProjections(document)
    ? unavailable('the projections are still catching up with the store')
    : undefined;
}

/**
 * Refuses such operations at execution (over HTTP: 503 with Retry-After). Not at validation: yoga
 * caches validation results per document, and the refusal must end when the projections are ready.
 * Over WebSocket, ws.ts refuses them earlier, in `onSubscribe`, so that the client gets an `error`.
 */
export function useReadiness(reactor: Reactor): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = notReady(reactor, args.document);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

/** Resolves once the projections are ready; UNAVAILABLE if they are not within the bound. */
export async function untilReady(reactor: Reactor, waitMs = SUBSCRIPTION_READY_WAIT_MS): Promise<void> {
  if (reactor.status().ready) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(unavailable('the projections are still catching up with the store')),
      waitMs,
    );
  });
  try {
    await Promise.race([reactor.ready, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
