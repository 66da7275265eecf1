// What every resolver gets: who is asking, and where their subscription messages go.
import { createGraphQLError } from 'graphql-yoga';
import { AuthError, authenticate, type Viewer } from './auth.ts';
import type { Outlet } from './channel.ts';
import { userError } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import { requestOutlet } from './outlets.ts';

export interface ApiContext {
  viewer: Viewer | null;
  outlet: Outlet;
  /** Aborted when an HTTP client goes away, so long work (a backtest) stops with it. */
  signal?: AbortSignal;
  /** The client's remote address, for limits per anonymous client. */
  ip?: string;
}

/** The remote address of a node request (HTTP's `req`, or the WebSocket upgrade request). */
const remoteAddress = (request: unknown): string | undefined =>
  (request as { socket?: { remoteAddress?: string } } | undefined)?.socket?.remoteAddress;

/**
 * Yoga's context factory. WebSocket operations arrive with viewer and outlet already set (the token
 * was checked once at `connection_init`); HTTP requests are authenticated here, per request.
 */
export function createContext(secret: Uint8Array, limits: ApiLimits, onSlowClose?: () => void) {
  return async (initial: Partial<ApiContext> & { request: Request; req?: unknown }): Promise<ApiContext> => {
    if (initial.outlet) {
      // Over WebSocket, `request` is the upgrade's node request.
      return { viewer: initial.viewer ?? null, outlet: initial.outlet, ip: remoteAddress(initial.request) };
    }
    try {
      const viewer = await authenticate(secret, initial.request.headers.get('authorization'));
      return {
        viewer,
        outlet: requestOutlet(limits, onSlowClose),
        signal: initial.request.signal,
        ip: remoteAddress(initial.req),
      };
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      throw createGraphQLError(error.message, {
        extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
      });
    }
  };
}

/** The viewer, or UNAUTHENTICATED for an anonymous caller. */
export function requireViewer(context: ApiContext): Viewer {
  if (!context.viewer)
    throw userError(
      'UNAUTHENTICATED',
      'this needs a token: Authorization: Bearer <token> (pricealert token <userId>)',
    );
  return context.viewer;
}
