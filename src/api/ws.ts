// GraphQL over WebSocket (graphql-transport-ws) on the HTTP server's /graphql path, run through
// yoga's envelop so that plugins, context, auth, limits and error masking are the same as over HTTP.
//
// The transport is graphql-ws's core (`makeServer`) with a thin `ws` adapter of our own rather than
// `graphql-ws/use/ws`: that adapter waits for every frame to be flushed before the subscription may
// send the next, so a client that stops reading stalls its subscriptions invisibly. Here a frame is
// handed to ws at once and `bufferedAmount` says exactly how far behind a client is (outlets.ts).
import type { IncomingMessage, Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { CloseCode, MessageType, handleProtocols, makeServer } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../logger.ts';
import { AuthError, authenticate, type Viewer } from './auth.ts';
import { createBroadcasts, isBroadcast } from './broadcast.ts';
import { admits, type Outlet } from './channel.ts';
import type { ApiContext } from './context.ts';
import { isGraphQLError, userError } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import { socketOutlet } from './outlets.ts';

/** Close code for a missing-or-bad token at `connection_init` (CONTRACT §4). */
export const FORBIDDEN_CLOSE = 4403;

/** Ping period; a socket that has not answered the previous ping by the next one is dropped. */
const KEEPALIVE_MS = 12_000;
/** Sockets are pinged in this many groups, one group per tick, so that pings never all go out at once. */
const KEEPALIVE_GROUPS = 12;
const FRAME_END = Buffer.from('}');
/** graphql-transport-ws frames are text frames, whatever the data is handed to ws as. */
const TEXT = { binary: false };
/** How long `dispose` waits for clients to answer the 1001 close. */
const CLOSE_GRACE_MS = 1_000;

interface ConnectionExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
  viewer?: Viewer | null;
  outlet?: Outlet;
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
  let connections = 0;
  const broadcasts = createBroadcasts();

  // One timer for all sockets rather than one each: 10k connections would be 10k timers.
  const keepAliveGroups = Array.from({ length: KEEPALIVE_GROUPS }, () => new Set<WebSocket>());
  const unanswered = new WeakSet<WebSocket>();
  let tick = 0;
  let opened = 0;
  const keepAlive = setInterval(() => {
    for (const socket of keepAliveGroups[tick++ % KEEPALIVE_GROUPS]!) {
      if (unanswered.has(socket)) socket.terminate();
      else {
        unanswered.add(socket);
        socket.ping();
      }
    }
  }, KEEPALIVE_MS / KEEPALIVE_GROUPS);
  function answered(this: WebSocket): void {
    unanswered.delete(this);
  }

  const server = makeServer<Record<string, unknown> | undefined, ConnectionExtra>({
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
    async onSubscribe(ctx, id, params) {
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
      if (isBroadcast(document, params.operationName)) {
        const key = JSON.stringify([params.query, params.operationName ?? null, params.variables ?? null]);
        // graphql-ws's own `next` frame, built around the shared payload JSON: nothing per client but
        // this concatenation and the write. Only while graphql-ws holds the subscription (the client
        // may complete it before it is set up).
        const head = Buffer.from(`{"id":${JSON.stringify(id)},"type":"${MessageType.Next}","payload":`);
        const send = (payload: Buffer): boolean => {
          if (!admits(outlet)) return false;
          if (id in ctx.subscriptions)
            ctx.extra.socket.send(
              Buffer.concat([head, payload, FRAME_END], head.length + payload.length + 1),
              TEXT,
            );
          return true;
        };
        root.subscribe = (args) =>
          broadcasts.subscribe(key, send, (shared) =>
            subscribe({
              ...args,
              contextValue: { ...(args.contextValue as ApiContext), viewer: null, outlet: shared },
            }),
          );
      }
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
  });

  const wss = new WebSocketServer({
    server: httpServer,
    path,
    maxPayload: limits.maxPayloadBytes,
    handleProtocols,
  });

  // ws re-emits the HTTP server's errors (EADDRINUSE on listen); whoever listens handles them.
  wss.on('error', () => {});

  wss.on('connection', (socket, request) => {
    socket.once('error', (error) => {
      // ws reports protocol violations (an oversized frame: 1009) and closes the socket itself.
      logger.debug({ err: error, remote: request.socket.remoteAddress }, 'websocket error');
    });
    const group = keepAliveGroups[opened++ % KEEPALIVE_GROUPS]!;
    group.add(socket);
    socket.on('pong', answered);

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          if (socket.readyState === socket.OPEN) socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            try {
              await handle(String(data));
            } catch (error) {
              logger.error({ err: error }, 'websocket message failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      group.delete(socket);
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      clearInterval(keepAlive);
      for (const client of wss.clients) client.close(1001, 'Going away');
      // A client that does not answer the close handshake soon is not waited for (ws would wait 30 s).
      const cut = setTimeout(() => wss.clients.forEach((client) => client.terminate()), CLOSE_GRACE_MS);
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
      clearTimeout(cut);
    },
  };
}
