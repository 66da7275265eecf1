// Forged, unbounded and expiring tokens: refused over HTTP (UNAUTHENTICATED) and WebSocket (4403),
// an open WebSocket is closed when its token expires, and honest users are served throughout.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecret } from '../../src/api/auth.ts';
import { codes, connect, gql, settled, startHarness, subscribe, type Harness } from '../api/harness.ts';

const BIN = join(import.meta.dirname, '../../bin/pricealert.js');
const DAY = 86_400;

let harness: Harness;
let secret: Uint8Array;

beforeAll(async () => {
  harness = await startHarness();
  secret = await loadSecret(harness.config);
});
afterAll(() => harness?.stop());

const now = (): number => Math.floor(Date.now() / 1000);

/** An HS256 token with the given claims, signed with `key` (the server's secret unless forged). */
const signed = (claims: { sub?: string; role?: string; iat?: number; exp?: number }, key = secret) => {
  const jwt = new SignJWT({ role: claims.role ?? 'user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('pricealert')
    .setSubject(claims.sub ?? 'mallory');
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(key);
};

/** The same claims, its payload swapped for another after signing. */
async function tampered(): Promise<string> {
  const [header, , signature] = (await signed({ sub: 'mallory', exp: now() + 3600 })).split('.');
  const payload = Buffer.from(
    JSON.stringify({ role: 'admin', iss: 'pricealert', sub: 'alice', exp: now() + 3600 }),
  ).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

const forged: [string, () => Promise<string>][] = [
  [
    'alg none',
    async () =>
      new UnsecuredJWT({ role: 'admin' })
        .setIssuer('pricealert')
        .setSubject('alice')
        .setExpirationTime('1h')
        .encode(),
  ],
  ['a wrong secret', () => signed({ exp: now() + 3600 }, new TextEncoder().encode('not-the-server-secret!'))],
  ['a tampered payload', tampered],
  ['no exp', () => signed({ iat: now() })],
  ['exp − iat over 365 days', () => signed({ iat: now(), exp: now() + 366 * DAY })],
  ['no iat and exp over 365 days away', () => signed({ exp: now() + 400 * DAY })],
  ['an expired one', () => signed({ iat: now() - 7200, exp: now() - 3600 })],
  ['an unknown role', () => signed({ role: 'root', exp: now() + 3600 })],
];

describe('forged or unbounded tokens are refused on both transports', () => {
  it.each(forged)('%s', async (_name, make) => {
    const token = await make();
    const response = await gql(harness.url, '{ alerts { id } }', {}, token);
    expect(response.status).toBe(401);
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);

    const refused = connect(harness.wsUrl, token);
    expect((await refused.closed).code).toBe(4403);

    const honest = await harness.token('alice');
    expect((await gql(harness.url, '{ alerts { id } }', {}, honest)).errors).toBeUndefined();
  });

  it('accepts a token of exactly 365 days', async () => {
    const token = await signed({ iat: now(), exp: now() + 365 * DAY });
    expect((await gql(harness.url, '{ alerts { id } }', {}, token)).errors).toBeUndefined();
  });
});

describe('a WebSocket lives no longer than its token', () => {
  it('is closed with 4403 when the token expires, while another client carries on', async () => {
    // Long enough to be accepted and answer a query first, even on a loaded machine.
    const shortLived = connect(harness.wsUrl, await harness.token('sam', 'user', 4));
    const longLived = connect(harness.wsUrl, await harness.token('lena'));
    const triggers = subscribe(longLived.client, 'subscription { alertTriggered { cursor } }');
    await settled(shortLived.client);
    const closed = await shortLived.closed;
    expect(closed).toMatchObject({ code: 4403, reason: expect.stringContaining('expired') });

    await settled(longLived.client);
    expect(triggers.pending).toEqual([]);
    await longLived.dispose();
  });
});

describe('pricealert token --ttl', () => {
  const token = (...flags: string[]) =>
    promisify(execFile)(
      process.execPath,
      [BIN, 'token', 'ttl-user', '--data', harness.config.PRICEALERT_DATA_DIR, ...flags],
      {
        env: { ...process.env, PRICEALERT_JWT_SECRET: '' },
      },
    );

  it('over 365 days is a usage error (exit 2)', async () => {
    const failure = await token('--ttl', '366d').catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('365d') });
  });

  it('of 365 days gives a token the server accepts', async () => {
    const { stdout } = await token('--ttl', '365d');
    expect((await gql(harness.url, '{ alerts { id } }', {}, stdout.trim())).errors).toBeUndefined();
  });
});
