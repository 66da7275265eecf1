// Envelop plugins shared by HTTP and WebSocket: abuse limits, error codes, request logs.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.ts';
import { isGraphQLError } from './errors.ts';
import type { ApiLimits } from './limits.ts';

/** Depth, alias and token limits; a rejected document gets LIMIT_EXCEEDED. */
export function armorPlugins(limits: ApiLimits): Plugin[] {
  const reject = [
    (_context: unknown, error: GraphQLError) => {
      throw createGraphQLError(error.message.replace(/^Syntax Error: /, ''), {
        extensions: { code: 'LIMIT_EXCEEDED' },
      });
    },
  ];
  const armor = new EnvelopArmor({
    // Introspection counts too (GraphiQL's own query is 21 deep): the schema has no cycles, so only
    // introspection could nest deeply.
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: false, onReject: reject },
    maxAliases: { n: limits.maxAliases, onReject: reject },
    maxTokens: { n: limits.maxTokens, onReject: reject },
    maxDirectives: { n: limits.maxDirectives, onReject: reject },
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  });
  return armor.protect().plugins as Plugin[];
}

/**
 * graphql-js reports bad variables and bad documents without a code; give them one so that every
 * error a client sees has `extensions.code` (a variable that fails its scalar names the field in
 * the message: `… at "input.threshold"; …`).
 */
export function useErrorCodes(): Plugin {
  const withCodes = (errors: readonly GraphQLError[], fallback: string): GraphQLError[] =>
    errors.map((error) =>
      error.extensions?.code
        ? error
        : createGraphQLError(error.message, {
            nodes: error.nodes,
            source: error.source,
            positions: error.positions,
            path: error.path,
            originalError: error.originalError,
            extensions: { ...error.extensions, code: fallback },
          }),
    );
  const fixResult = ({
    result,
    setResult,
  }: {
    result: ExecutionResult;
    setResult(result: ExecutionResult): void;
  }): void => {
    if (result.errors?.some((error) => !error.extensions?.code)) {
      // Without data, the operation never started: its variables did not coerce.
      setResult({
        ...result,
        errors: withCodes(
          result.errors,
          result.data === undefined ? 'BAD_USER_INPUT' : 'INTERNAL_SERVER_ERROR',
        ),
      });
    }
  };
  return {
    onValidate:
      () =>
      ({ result, setResult }) => {
        const errors = result.filter(isGraphQLError);
        if (errors.length > 0 && errors.length === result.length)
          setResult(withCodes(errors, 'GRAPHQL_VALIDATION_FAILED'));
      },
    onExecute: () => ({
      onExecuteDone: (payload) => (isSingle(payload.result) ? fixResult(payload as never) : undefined),
    }),
    onSubscribe: () => ({
      onSubscribeResult: (payload) => (isSingle(payload.result) ? fixResult(payload as never) : undefined),
    }),
  };
}

const isSingle = (result: unknown): result is ExecutionResult =>
  typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);

/** One debug line per HTTP request; WebSocket connections log their own lines (ws.ts). */
export function useRequestLog(logger: Logger): Plugin {
  const started = new WeakMap<Request, number>();
  return {
    onRequest: ({ request }) => {
      started.set(request, performance.now());
    },
    onResponse: ({ request, response }) => {
      const began = started.get(request);
      logger.debug(
        {
          method: request.method,
          path: new URL(request.url).pathname,
          status: response.status,
          ms: began === undefined ? undefined : Math.round(performance.now() - began),
        },
        'http request',
      );
    },
  };
}
