// GraphQL over WebSocket (graphql-transport-ws) on the HTTP server's /graphql path, run through
// yoga's envelop so that plugins, context, auth, limits and error masking are the same as over HTTP.
//
// The transport is graphql-ws's core (`makeServer`) with a thin `ws` adapter of our own rather than
// `graphql-ws/use/ws`: that adapter waits for every frame to be flushed before the subscription may
// send the next, so a client that stops reading stalls its subscriptions invisibly. Here a frame is
// handed to ws at once and `bufferedAmount` says exactly how far behind a client is (outlets.ts).
import type { IncomingMessage, Server } from 'node:http';
import { getOperationAST, type DocumentNode, type ExecutionArgs, type GraphQLError } from 'graphql';
// The file graphql's CommonJS index loads, as yoga's executor does: coercion checks types with
// instanceof, and under vitest a bare 'graphql' import can be its other (ESM) copy.
import { getVariableValues } from 'graphql/execution/values.js';
import type { YogaServerInstance } from 'graphql-yoga';
import { CloseCode, MessageType, handleProtocols, makeServer, type Context } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../logger.ts';
import { AuthError, credentialOf, type Viewer } from './auth.ts';
import { broadcastKey, createBroadcasts, isBroadcast } from './broadcast.ts';
import { admits, type Outlet } from './channel.ts';
import type { ApiContext } from './context.ts';
import { isGraphQLError, userError } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import { socketOutlet } from './outlets.ts';

/** Close code for a missing-or-bad token at `connection_init`, and when the token expires (CONTRACT §4). */
export const FORBIDDEN_CLOSE = 4403;
/** Close code for a remote address that already holds as many WebSockets as it may. */
const TOO_MANY_CONNECTIONS_CLOSE = 4429;
/** setTimeout's longest delay; a token's expiry further off is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  readonly remoteAddress: string;
  viewer?: Viewer | null;
  outlet?: Outlet;
}

type Connection = Context<Record<string, unknown> | undefined, ConnectionExtra>;

/** Closes the socket with 4403 when its token expires (`expiresAt` in seconds since the epoch). */
function closeAtExpiry(socket: WebSocket, expiresAt: number): void {
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    const left = expiresAt * 1000 - Date.now();
    if (left <= 0) socket.close(FORBIDDEN_CLOSE, 'Forbidden: the token has expired');
    else timer = setTimeout(check, Math.min(left, MAX_TIMER_MS));
  };
  check();
  socket.once('close', () => clearTimeout(timer));
}

/** A GraphQL error the client's document caused, as graphql-ws's error list; anything else is rethrown. */
function asClientErrors(error: unknown): GraphQLError[] {
  if (isGraphQLError(error)) return [error];
  throw error;
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
  /** Refuses an operation the server cannot answer yet (readiness.ts), as an `error` for its id. */
  refuse?: (document: DocumentNode) => GraphQLError | undefined;
  /** Called when a client is cut off for not reading (for /metrics). */
  onSlowClose?: () => void;
}): {
  /** WebSocket connections open now, whether initialised or not. */
  readonly connections: number;
  /** Operations running over all connections (counted when asked: walks the connections). */
  subscriptions(): number;
  dispose(): Promise<void>;
} {
  const { httpServer, path, yoga, secret, limits, logger, refuse, onSlowClose } = options;
  let connections = 0;
  const broadcasts = createBroadcasts();
  /** Open sockets per remote address. */
  const perAddress = new Map<string, number>();
  /** Acknowledged connections per user (`user:<id>`) and, for anonymous ones, per address (`anon:<address>`). */
  const holders = new Map<string, Set<Connection>>();
  const holderOf = ({ extra }: Connection): string =>
    extra.viewer ? `user:${extra.viewer.userId}` : `anon:${extra.remoteAddress}`;
  /**
   * Whether a holder runs more than `most` operations over all its connections, the one being
   * subscribed included. Counted from graphql-ws's own records, so no operation's end can be missed.
   */
  const holdsMoreThan = (holder: string, most: number): boolean => {
    let count = 0;
    for (const connection of holders.get(holder) ?? []) {
      count += Object.keys(connection.subscriptions).length;
      if (count > most) return true;
    }
    return false;
  };
  const overLimit = (ctx: Connection): GraphQLError | undefined => {
    if (Object.keys(ctx.subscriptions).length > limits.maxOperationsPerSocket)
      return userError(
        'LIMIT_EXCEEDED',
        `at most ${limits.maxOperationsPerSocket} operations at once per connection`,
      );
    const holder = holderOf(ctx);
    const [most, whose] = ctx.extra.viewer
      ? [limits.maxOperationsPerUser, 'per user']
      : [limits.maxAnonymousOperationsPerAddress, 'for anonymous clients per address'];
    if (holdsMoreThan(holder, most))
      return userError('LIMIT_EXCEEDED', `at most ${most} operations at once ${whose}`);
    return undefined;
  };

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
      const { socket, remoteAddress } = ctx.extra;
      let credential;
      try {
        credential = await credentialOf(secret, params.authorization ?? params.Authorization);
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        logger.debug({ remote: remoteAddress, reason: error.message }, 'websocket refused');
        socket.close(FORBIDDEN_CLOSE, `Forbidden: ${error.message}`);
        return false;
      }
      ctx.extra.viewer = credential?.viewer ?? null;
      if (credential) closeAtExpiry(socket, credential.expiresAt);
      ctx.extra.outlet = socketOutlet(socket, limits, () => {
        onSlowClose?.();
        logger.info({ user: ctx.extra.viewer?.userId, remote: remoteAddress }, 'websocket cut off: too slow');
      });
      const holder = holderOf(ctx);
      holders.set(holder, (holders.get(holder) ?? new Set()).add(ctx));
      connections += 1;
      logger.debug(
        { user: ctx.extra.viewer?.userId, remote: remoteAddress, connections },
        'websocket connected',
      );
      return true;
    },
    onClose(ctx, code, reason) {
      if (!ctx.acknowledged) return;
      const holder = holderOf(ctx);
      const held = holders.get(holder);
      held?.delete(ctx);
      if (held?.size === 0) holders.delete(holder);
      connections -= 1;
      logger.debug({ user: ctx.extra.viewer?.userId, code, reason, connections }, 'websocket closed');
    },
    // Whatever is wrong with one operation (its document, variables, a limit) is an `error` message
    // for that operation id, as over HTTP; the socket and its other operations carry on.
    async onSubscribe(ctx, id, params) {
      const { viewer = null, outlet, remoteAddress } = ctx.extra;
      if (!outlet) return [userError('UNAUTHENTICATED', 'the connection is not initialised')];
      const limit = overLimit(ctx);
      if (limit) return [limit];
      // No `request`: yoga would take the upgrade's GET for the method and refuse mutations.
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        viewer,
        outlet,
        remoteAddress,
        params,
      });
      let document;
      try {
        document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const refused = refuse?.(document);
        if (refused) return [refused];
      } catch (error) {
        return asClientErrors(error);
      }
      const operation = getOperationAST(document, params.operationName);
      if (!operation)
        return [userError('BAD_USER_INPUT', 'name the operation to run in operationName', 'operationName')];
      const variables = getVariableValues(
        schema,
        operation.variableDefinitions ?? [],
        params.variables ?? {},
      );
      if (variables.errors)
        return variables.errors.map((error) => userError('BAD_USER_INPUT', error.message));
      let contextValue;
      try {
        contextValue = await contextFactory();
      } catch (error) {
        return asClientErrors(error);
      }
      const root: EnvelopedRoot = { execute, subscribe };
      if (isBroadcast(operation)) {
        const key = broadcastKey(document, operation, variables.coerced);
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
        contextValue,
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
    const remoteAddress = request.socket.remoteAddress ?? 'unknown';
    socket.once('error', (error) => {
      // ws reports protocol violations (an oversized frame: 1009) and closes the socket itself.
      logger.debug({ err: error, remote: remoteAddress }, 'websocket error');
    });
    const open = (perAddress.get(remoteAddress) ?? 0) + 1;
    perAddress.set(remoteAddress, open);
    socket.once('close', () => {
      const left = (perAddress.get(remoteAddress) ?? 1) - 1;
      if (left > 0) perAddress.set(remoteAddress, left);
      else perAddress.delete(remoteAddress);
    });
    if (open > limits.maxConnectionsPerAddress) {
      logger.debug({ remote: remoteAddress }, 'websocket refused: too many from this address');
      socket.close(
        TOO_MANY_CONNECTIONS_CLOSE,
        `LIMIT_EXCEEDED: at most ${limits.maxConnectionsPerAddress} connections per address`,
      );
      return;
    }
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
      { socket, request, remoteAddress },
    );
    socket.once('close', (code, reason) => {
      group.delete(socket);
      void closed(code, String(reason));
    });
  });

  return {
    // The sockets themselves rather than `connections`: that one moves only once graphql-ws has
    // finished an operation's teardown.
    get connections() {
      return wss.clients.size;
    },
    subscriptions() {
      let count = 0;
      for (const held of holders.values())
        for (const connection of held) count += Object.keys(connection.subscriptions).length;
      return count;
    },
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
