// The dashboard at `/`: the files `npm run build` bundles into dist/dashboard, and the one-click
// sign-in (`POST /dev/token`) that a server bound to a loopback address offers for local development.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.ts';
import { packageFile } from '../layout.ts';
import type { Logger } from '../logger.ts';
import { isUserId, signToken } from './auth.ts';
import { sendJson } from './sendJson.ts';

const DIST = packageFile('dist/dashboard/');
export const DEV_TOKEN_PATH = '/dev/token';
const DEV_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const DEV_USER = 'dev';

/**
 * URL path → built file. Only these paths are answered, so no request can name another file
 * (no `..`, no encoded slashes to get wrong).
 */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** `127.0.0.1` (any 127/8 address), `::1` and `localhost`: only this machine can reach them. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** The host name in a Host header, without its port. */
const hostOf = (header: string | undefined): string => (header ?? '').replace(/:\d*$/, '');

async function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > limit) return undefined;
  }
  return body;
}

export interface DashboardRoutes {
  /** True for the paths this module answers. */
  handles(path: string): boolean;
  answer(request: IncomingMessage, response: ServerResponse, path: string): Promise<void>;
}

export function dashboardRoutes(config: Config, secret: Uint8Array, logger: Logger): DashboardRoutes {
  async function sendFile(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' });
      return void response.end();
    }
    const { file, type } = FILES[path]!;
    let content: Buffer;
    try {
      content = await readFile(new URL(file, DIST));
    } catch {
      logger.warn({ file }, 'the dashboard is not built');
      response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      return void response.end('The dashboard is not built: run npm run build.\n');
    }
    response.writeHead(200, {
      'content-type': type,
      'content-length': content.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    response.end(request.method === 'HEAD' ? undefined : content);
  }

  /**
   * Mints a user token with the server's secret, for a server only this machine can reach. The
   * request must be JSON (so a page on another origin needs a CORS preflight, which it never gets)
   * and name a loopback host (so a DNS-rebound name cannot ask either).
   */
  async function devToken(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'POST' });
      return void response.end();
    }
    if (!isLoopback(config.HOST) || !isLoopback(hostOf(request.headers.host)))
      return sendJson(response, 403, {
        error: 'FORBIDDEN',
        message: `one-click sign-in is only offered by a server bound to 127.0.0.1 or localhost (this one is bound to ${config.HOST}); make a token with: pricealert token <userId>`,
      });
    if (!request.headers['content-type']?.startsWith('application/json'))
      return sendJson(response, 415, { error: 'BAD_REQUEST', message: 'send a JSON body: {"userId": "…"}' });
    const body = await readBody(request, 1024);
    let userId: unknown = DEV_USER;
    try {
      userId = body ? ((JSON.parse(body) as { userId?: unknown }).userId ?? DEV_USER) : DEV_USER;
    } catch {
      return sendJson(response, 400, { error: 'BAD_REQUEST', message: 'the body is not JSON' });
    }
    if (typeof userId !== 'string' || !isUserId(userId))
      return sendJson(response, 400, {
        error: 'BAD_USER_INPUT',
        message: 'userId: 1–128 letters, digits or . _ @ : + -',
      });
    const token = await signToken(secret, { userId, role: 'user' }, DEV_TOKEN_TTL_SECONDS);
    logger.info({ userId }, 'dev token issued');
    sendJson(response, 200, { userId, token });
  }

  return {
    handles: (path) => path in FILES || path === DEV_TOKEN_PATH,
    async answer(request, response, path) {
      try {
        await (path === DEV_TOKEN_PATH ? devToken(request, response) : sendFile(request, response, path));
      } catch (error) {
        logger.error({ err: error, path }, 'dashboard request failed');
        if (!response.headersSent) sendJson(response, 500, { error: 'INTERNAL_SERVER_ERROR' });
        response.end();
      }
    },
  };
}
