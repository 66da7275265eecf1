// One webhook POST: signed as Standard Webhooks says, to a checked address, within a timeout, and
// never following a redirect (a 3xx is a failed attempt).
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Webhook } from 'standardwebhooks';
import { guardedLookup, parseTargetUrl, refusedLiteral } from './target.ts';

export interface SendOptions {
  allowPrivate: boolean;
  timeoutMs: number;
}

/** What one attempt came to: a 2xx is delivered, anything else (or no answer) failed. */
export interface SendOutcome {
  ok: boolean;
  status?: number;
  error?: string;
  ms: number;
}

export interface WebhookMessage {
  /** `webhook-id`: the same on every attempt, so receivers can drop repeats. */
  id: string;
  body: string;
}

const USER_AGENT = 'pricealert-webhooks/1';
/** Bytes of a response read before the rest is dropped: only the status matters. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** The Standard Webhooks headers for a message sent at `at`. */
export function signedHeaders(secret: string, message: WebhookMessage, at: Date): Record<string, string> {
  return {
    'webhook-id': message.id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(message.id, at, message.body),
  };
}

/** Keep-alive agents per sender; every new connection goes through the guarded lookup. */
export function createSender(options: SendOptions) {
  const lookup = guardedLookup(options.allowPrivate);
  const agents = {
    http: new HttpAgent({ keepAlive: true, lookup }),
    https: new HttpsAgent({ keepAlive: true, lookup }),
  };

  const send = (url: string, secret: string, message: WebhookMessage): Promise<SendOutcome> => {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const parsed = parseTargetUrl(url);
    if (!parsed.ok) return Promise.resolve({ ok: false, error: `url ${parsed.reason}`, ms: 0 });
    const refused = refusedLiteral(parsed.url, options.allowPrivate);
    if (refused) return Promise.resolve({ ok: false, error: `refused target: ${refused}`, ms: 0 });
    const body = Buffer.from(message.body);
    const https = parsed.url.protocol === 'https:';
    return new Promise<SendOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: Omit<SendOutcome, 'ms'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...outcome, ms: elapsed() });
      };
      const request = (https ? httpsRequest : httpRequest)(
        parsed.url,
        {
          method: 'POST',
          agent: https ? agents.https : agents.http,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'user-agent': USER_AGENT,
            ...signedHeaders(secret, message, new Date()),
          },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          let read = 0;
          response.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_RESPONSE_BYTES) response.destroy();
          });
          const done = (): void =>
            finish(
              status >= 200 && status < 300
                ? { ok: true, status }
                : {
                    ok: false,
                    status,
                    error: status >= 300 && status < 400 ? 'redirect not followed' : `HTTP ${status}`,
                  },
            );
          response.once('end', done).once('close', done).once('error', done);
        },
      );
      const timer = setTimeout(() => {
        request.destroy();
        finish({ ok: false, error: `no answer within ${options.timeoutMs} ms` });
      }, options.timeoutMs);
      request.once('error', (error: NodeJS.ErrnoException) =>
        finish({
          ok: false,
          error:
            error.code === 'EREFUSEDTARGET' ? error.message : `${error.code ?? 'error'}: ${error.message}`,
        }),
      );
      request.end(body);
    });
  };

  return {
    send,
    close(): void {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export type Sender = ReturnType<typeof createSender>;
