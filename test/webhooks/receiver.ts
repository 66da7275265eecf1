// Local webhook receivers on 127.0.0.1 for tests and benchmarks, and an independent signature check.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** What the receiver answers: a status, or `hang` (never answer), per request. */
export type Answer = number | 'hang' | { status: number; headers: Record<string, string> };

export interface Receiver {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  received: Received[];
  /** Called for each request; the default answers 200. */
  answer: (request: Received) => Answer;
  /** Resolves with the request once `count` have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  /** Requests answered `hang` and still open. */
  readonly hanging: number;
  close(): Promise<void>;
}

export async function startReceiver(answer: (request: Received) => Answer = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry: Received = {
        path: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
        at: performance.now(),
      };
      received.push(entry);
      for (const waiter of [...waiters]) if (received.length >= waiter.count) waiter.resolve();
      const reply = receiver.answer(entry);
      if (reply === 'hang') {
        open.add(response);
        response.once('close', () => open.delete(response));
        return;
      }
      if (typeof reply === 'number') response.writeHead(reply).end();
      else response.writeHead(reply.status, reply.headers).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    origin: `http://127.0.0.1:${port}`,
    received,
    answer,
    waitFor(count, timeoutMs = 15_000) {
      if (received.length >= count) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${received.length} of ${count} webhook requests arrived in time`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(received);
          },
        });
      });
    },
    get hanging() {
      return open.size;
    },
    async close() {
      for (const response of open) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return receiver;
}

/**
 * The Standard Webhooks check written from the specification, not with the library that signs:
 * `v1,` + base64(HMAC-SHA256(base64-decoded secret after `whsec_`, `${id}.${timestamp}.${body}`)),
 * any of the space-separated signatures matching.
 */
export function verifySignature(secret: string, request: Received): boolean {
  const id = request.headers['webhook-id'];
  const timestamp = request.headers['webhook-timestamp'];
  const signatures = request.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!secret.startsWith('whsec_')) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest();
  return signatures.split(' ').some((signature) => {
    const [version, value] = signature.split(',');
    if (version !== 'v1' || value === undefined) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
