// GraphQL over WebSocket (graphql-transport-ws) on the HTTP server's /graphql path, run through
// yoga's envelop so that plugins, context, auth, limits and error masking are the same as over HTTP.
import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import { AuthError, authenticate, type Viewer } from './auth.ts';
import type { Outlet } from './channel.ts';
import type { ApiContext } from './context.ts';
import { isGraphQLError, userError } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import { socketOutlet } from './outlets.ts';

/** Close code for a missing-or-bad token at `connection_init` (CONTRACT §4). */
export const FORBIDDEN_CLOSE = 4403;

interface ConnectionExtra {
  viewer: Viewer | null;
  outlet: Outlet;
  [key: PropertyKey]: unknown;
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export function attachWebSocket(options: {
  httpServer: Server;
  path: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- yoga's server context is open-ended by design
  yoga: YogaServerInstance<any, ApiContext>;
  secret: Uint8Array;
  limits: ApiLimits;
  logger: Logger;
}): { dispose(): Promise<void> } {
  const { httpServer, path, yoga, secret, limits, logger } = options;
  const wss = new WebSocketServer({ server: httpServer, path, maxPayload: limits.maxPayloadBytes });
  let connections = 0;

  const server = useServer<Record<string, unknown> | undefined, ConnectionExtra>(
    {
      connectionInitWaitTimeout: limits.connectionInitWaitMs,
      async onConnect(ctx) {
        const params = ctx.connectionParams ?? {};
        const { socket, request } = ctx.extra;
        try {
          ctx.extra.viewer = await authenticate(secret, params.authorization ?? params.Authorization);
        } catch (error) {
          if (!(error instanceof AuthError)) throw error;
          logger.debug({ remote: request.socket.remoteAddress, reason: error.message }, 'websocket refused');
          socket.close(FORBIDDEN_CLOSE, `Forbidden: ${error.message}`);
          return false;
        }
        ctx.extra.outlet = socketOutlet(socket, limits, () =>
          logger.info(
            { user: ctx.extra.viewer?.userId, remote: request.socket.remoteAddress },
            'websocket cut off: too slow',
          ),
        );
        connections += 1;
        logger.debug(
          { user: ctx.extra.viewer?.userId, remote: request.socket.remoteAddress, connections },
          'websocket connected',
        );
        return true;
      },
      onClose(ctx, code, reason) {
        if (!ctx.acknowledged) return;
        connections -= 1;
        logger.debug({ user: ctx.extra.viewer?.userId, code, reason, connections }, 'websocket closed');
      },
      async onSubscribe(ctx, _id, params) {
        if (Object.keys(ctx.subscriptions).length > limits.maxOperationsPerSocket) {
          return [
            userError(
              'LIMIT_EXCEEDED',
              `at most ${limits.maxOperationsPerSocket} operations at once per connection`,
            ),
          ];
        }
        const { viewer = null, outlet } = ctx.extra;
        if (!outlet) return [userError('UNAUTHENTICATED', 'the connection is not initialised')];
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          viewer,
          outlet,
          request: ctx.extra.request,
          params,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          if (isGraphQLError(error)) return [error];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const root: EnvelopedRoot = { execute, subscribe };
        return {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: root,
        };
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    },
    wss,
  );

  return {
    dispose: () => server.dispose() as Promise<void>,
  };
}
