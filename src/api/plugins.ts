// Envelop plugins shared by HTTP and WebSocket: abuse limits, error codes, request logs.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import type { IncomingMessage } from 'node:http';
import { getOperationAST, type ExecutionResult, type GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.ts';
import type { ApiContext } from './context.ts';
import { clipped, isGraphQLError, rateLimited } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import { createRateLimiter } from './rateLimit.ts';

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
  // Messages are clipped too: graphql's own quote the client's value whole (a 100 KB "threshold").
  const unfit = (error: GraphQLError): boolean =>
    !error.extensions?.code || clipped(error.message) !== error.message;
  const withCodes = (errors: readonly GraphQLError[], fallback: string): GraphQLError[] =>
    errors.map((error) =>
      unfit(error)
        ? createGraphQLError(clipped(error.message), {
            nodes: error.nodes,
            source: error.source,
            positions: error.positions,
            path: error.path,
            originalError: error.originalError,
            extensions: { ...error.extensions, code: error.extensions?.code ?? fallback },
          })
        : error,
    );
  const fixResult = ({
    result,
    setResult,
  }: {
    result: ExecutionResult;
    setResult(result: ExecutionResult): void;
  }): void => {
    if (result.errors?.some(unfit)) {
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
    // Over HTTP yoga names syntax errors itself, but only for requests it parsed (not WebSocket ones).
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (isGraphQLError(result) && unfit(result))
          replaceParseResult(withCodes([result], 'GRAPHQL_PARSE_FAILED')[0]);
      },
    onValidate:
      () =>
      ({ result, setResult }) => {
        const errors = result.filter(isGraphQLError);
        if (errors.length > 0 && errors.length === result.length && errors.some(unfit))
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

/**
 * A body yoga cannot read (a broken multipart upload, a form without `operations`) is the client's
 * mistake: 400 BAD_REQUEST with what is wrong, not an internal error logged with a stack.
 */
export function useBodyErrors(): Plugin {
  const badRequest = (message: string): GraphQLError =>
    createGraphQLError(clipped(`the request body is not valid: ${message}`), {
      extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
    });
  return {
    onRequestParse: ({ requestParser, setRequestParser }) => {
      if (!requestParser) return;
      const guarded = async (request: Request): Promise<Awaited<ReturnType<typeof requestParser>>> => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (isGraphQLError(error) && error.extensions.code) throw error;
          throw badRequest(error instanceof Error ? error.message : String(error));
        }
      };
      setRequestParser(guarded as typeof requestParser);
    },
  };
}

/**
 * What a context knows of the client's address: WebSocket operations carry it (ws.ts), HTTP ones
 * have node's request as `req` (yoga's server context).
 */
interface TransportContext {
  remoteAddress?: string;
  req?: IncomingMessage;
}

/** The client's address for limits; HTTP when the operation came with node's request. */
function remoteOf(context: TransportContext): { address: string; overHttp: boolean } {
  const address = context.remoteAddress ?? context.req?.socket.remoteAddress ?? 'unknown';
  return { address, overHttp: context.req !== undefined };
}

/**
 * Mutations are rate limited per user and per remote address (token buckets), on both transports;
 * feeders and admins (recordTrade) are not. Refused ones get RATE_LIMITED with `retryAfter` seconds,
 * over HTTP status 429 and a Retry-After header.
 */
export function useRateLimits(limits: ApiLimits, onRefused?: () => void): Plugin {
  const users = createRateLimiter({
    perSecond: limits.userMutationsPerSecond,
    burst: limits.userMutationBurst,
  });
  const addresses = createRateLimiter({
    perSecond: limits.addressMutationsPerSecond,
    burst: limits.addressMutationBurst,
  });
  return {
    onExecute: ({ args, setResultAndStopExecution }) => {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const context = args.contextValue as unknown as ApiContext & TransportContext;
      const role = context.viewer?.role;
      if (role === 'feeder' || role === 'admin') return;
      const { address, overHttp } = remoteOf(context);
      const wait = addresses.take(address) || (context.viewer ? users.take(context.viewer.userId) : 0);
      if (wait === 0) return;
      onRefused?.();
      setResultAndStopExecution({ errors: [rateLimited(wait, overHttp)] });
    },
  };
}

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
