// /health, /ready and /metrics: answered by the GraphQL server, and by a small listener of their own
// in a process that runs no API (a reactor or a feed alone), so every role is probed the same way.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Reactor } from '../runtime/reactor.ts';
import { sendJson } from './sendJson.ts';

/** What `/ready` says: ready, or why not yet (503). */
export type Readiness =
  | { ready: true; position?: string }
  | { ready: false; reason: string; position?: string; target?: string | null };

/** Ready once the reactor's projections have caught up with the store. */
export function reactorReadiness(reactor: Pick<Reactor, 'status'>): () => Readiness {
  return () => {
    const status = reactor.status();
    return status.ready
      ? { ready: true, position: status.position }
      : {
          ready: false,
          reason: 'the projections are catching up with the store',
          position: status.position,
          target: status.target,
        };
  };
}

export interface HealthRoutes {
  readiness: () => Readiness;
  metrics: Metrics;
  logger: Logger;
}

/** Prometheus' text format; a collect that throws is a 500, logged, rather than a crashed server. */
async function sendMetrics(response: ServerResponse, metrics: Metrics, logger: Logger): Promise<void> {
  try {
    const { contentType, body } = await metrics.scrape();
    response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    response.end(body);
  } catch (error) {
    logger.error({ err: error }, 'collecting metrics failed');
    sendJson(response, 500, { status: 'error', reason: 'collecting metrics failed' });
  }
}

/** Answers `path` when it is one of the three; false when it is not. */
export function answerHealth(
  path: string | undefined,
  response: ServerResponse,
  routes: HealthRoutes,
): boolean {
  if (path === '/health') {
    sendJson(response, 200, { status: 'ok' });
    return true;
  }
  if (path === '/metrics') {
    void sendMetrics(response, routes.metrics, routes.logger);
    return true;
  }
  if (path !== '/ready') return false;
  const { ready, ...rest } = routes.readiness();
  sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : 'starting', ...rest });
  return true;
}

export interface HealthServer {
  /** `http://host:port` */
  url: string;
  stop(): Promise<void>;
}

/** A listener answering only /health, /ready and /metrics (404 otherwise), for a process without the API. */
export async function startHealthServer(
  options: HealthRoutes & { host: string; port: number },
): Promise<HealthServer> {
  const server = createServer((request, response) => {
    if (!answerHealth(request.url?.split('?')[0], response, options))
      sendJson(response, 404, { status: 'not found', reason: 'this process runs no GraphQL API' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
