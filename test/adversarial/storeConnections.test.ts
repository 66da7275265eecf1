// The store's port against sockets that never become gRPC clients: garbage, silence, or an HTTP/2
// preface and then nothing. They must all be closed, while real clients keep appending and receiving.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { appendToStream, connectClient, START, subscribeToStream } from '../../src/eventstore/store.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PREFACE_AND_SETTINGS = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

function hostAndPort(store: TestStore): { host: string; port: number } {
  const match = /^esdb:\/\/([^:]+):(\d+)/.exec(store.connectionString)!;
  return { host: match[1]!, port: Number(match[2]) };
}

/** Opens a socket that sends `payload` (if any) and then only reads; resolves when the node closes it. */
function squatter(store: TestStore, payload: Buffer | undefined): Promise<void> {
  const { host, port } = hostAndPort(store);
  return new Promise((resolve) => {
    const socket: Socket = connect(port, host, () => {
      if (payload) socket.write(payload);
    });
    cleanups.push(() => {
      socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.resume();
  });
}

describe('connections that never become clients', () => {
  it('are closed after the handshake or idle timeout, while a subscriber and a writer carry on', async () => {
    const store = await startTestStore({
      limits: { handshakeTimeoutMs: 1_000, connectionIdleTimeoutMs: 2_000 },
    });
    cleanups.push(() => store.stop());
    const subscriber = connectClient(store.connectionString);
    cleanups.push(() => subscriber.dispose());
    const received: number[] = [];
    const subscription = subscribeToStream(subscriber, 'busy', { fromRevision: START });
    const receiving = (async () => {
      for await (const event of subscription) received.push((event.data as { n: number }).n);
    })();
    // Cleanups run last first: unsubscribing ends the loop, then the client can be disposed.
    cleanups.push(() => receiving);
    cleanups.push(() => subscription.unsubscribe());

    const squatters = [
      ...Array.from({ length: 80 }, (_, index) => squatter(store, Buffer.from(`garbage ${index} \0\xff`))),
      ...Array.from({ length: 80 }, () => squatter(store, undefined)),
      ...Array.from({ length: 40 }, () => squatter(store, PREFACE_AND_SETTINGS)),
    ];
    let closed = false;
    const allClosed = Promise.all(squatters).then(() => {
      closed = true;
    });
    let written = 0;
    while (!closed) {
      await appendToStream(store.client, 'busy', { type: 'Tick', data: { n: written } });
      written += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await allClosed;
    // Past both timeouts: the subscriber's connection, idle but for its subscription, is still served.
    await appendToStream(store.client, 'busy', { type: 'Tick', data: { n: written } });
    written += 1;
    while (received.length < written) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toEqual(Array.from({ length: written }, (_, n) => n));
  });
});
