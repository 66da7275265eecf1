// Outlets: how a connection says it has fallen too far behind, for WebSocket and SSE connections.
import { WebSocket } from 'ws';
import type { Outlet } from './channel.ts';
import type { ApiLimits } from './limits.ts';

/**
 * Close code for a WebSocket that stopped reading; it may reconnect and resume with its last cursor.
 * 1013 (Try Again Later) is one the stock graphql-ws client retries; 4429 is its fatal
 * TooManyInitialisationRequests.
 */
export const SLOW_CONSUMER_CLOSE = 1013;
export const SLOW_CONSUMER_REASON = 'too slow: stopped reading; reconnect and resume with your last cursor';

export function socketOutlet(socket: WebSocket, limits: ApiLimits, onCutOff: () => void): Outlet {
  let cut = false;
  return {
    queued: 0,
    get closed() {
      return cut || socket.readyState !== WebSocket.OPEN;
    },
    overloaded() {
      return this.queued > limits.maxQueuedMessages || socket.bufferedAmount > limits.maxBufferedBytes;
    },
    cutOff() {
      if (cut) return;
      cut = true;
      onCutOff();
      // A closing handshake rather than terminate(), so a client that reads again learns why; ws
      // destroys the socket itself if the handshake never completes.
      socket.close(SLOW_CONSUMER_CLOSE, SLOW_CONSUMER_REASON);
    },
  };
}

/** For subscriptions over HTTP (SSE): a cut-off ends the response's streams with an error. */
export function requestOutlet(limits: ApiLimits, onCutOff?: () => void): Outlet {
  let cut = false;
  return {
    queued: 0,
    get closed() {
      return cut;
    },
    overloaded() {
      return this.queued > limits.maxQueuedMessages;
    },
    cutOff() {
      if (cut) return;
      cut = true;
      onCutOff?.();
    },
  };
}
