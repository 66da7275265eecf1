// Bearer tokens: HS256 JWTs signed with the server's secret, and who a request acts as.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, jwtVerify } from 'jose';
import type { Config } from '../config.ts';
import type { Role } from '../domain/types.ts';

export const ROLES = ['user', 'feeder', 'admin'] as const satisfies readonly Role[];

/** Who a request acts as; `null` in a context means anonymous. */
export interface Viewer {
  userId: string;
  role: Role;
}

export class AuthError extends Error {
  readonly code = 'UNAUTHENTICATED';
}

const ISSUER = 'pricealert';
const SECRET_FILE = 'jwt-secret';
const USER_ID = /^[\w.@:+-]{1,128}$/;

export const isUserId = (value: string): boolean => USER_ID.test(value);

/**
 * The signing secret: `PRICEALERT_JWT_SECRET`, else the one generated into the data dir the first
 * time it is needed (mode 0600). Written to a temporary file and hard-linked into place, so two
 * processes starting at once agree on one secret and neither reads a half-written file.
 */
export async function loadSecret(config: Config): Promise<Uint8Array> {
  if (config.PRICEALERT_JWT_SECRET) return new TextEncoder().encode(config.PRICEALERT_JWT_SECRET);
  const dir = config.PRICEALERT_DATA_DIR;
  const path = join(dir, SECRET_FILE);
  await mkdir(dir, { recursive: true });
  const existing = await readSecretFile(path);
  if (existing) return existing;
  const temporary = join(dir, `${SECRET_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await writeFile(temporary, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(temporary, { force: true });
  }
  const secret = await readSecretFile(path);
  if (!secret) throw new Error(`the token secret in ${path} is empty`);
  return secret;
}

async function readSecretFile(path: string): Promise<Uint8Array | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text.length > 0 ? new TextEncoder().encode(text) : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Signs a token for `viewer` that expires `ttlSeconds` from now. */
export async function signToken(secret: Uint8Array, viewer: Viewer, ttlSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: viewer.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(viewer.userId)
    .setIssuer(ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(secret);
}

/** The longest a token may live, from `iat` (or from now, without one) to `exp`. */
export const MAX_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

/** A verified token: who it acts as, and until when (`exp`, seconds since the epoch). */
export interface Credential {
  viewer: Viewer;
  expiresAt: number;
}

/** Verifies a bare token; throws AuthError with a sentence a user can act on. */
async function verifyCredential(secret: Uint8Array, token: string): Promise<Credential> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, secret, {
      algorithms: ['HS256'],
      issuer: ISSUER,
      requiredClaims: ['exp'],
    }));
  } catch (error) {
    const { code, claim } = error as { code?: string; claim?: string };
    if (code === 'ERR_JWT_EXPIRED') throw new AuthError('the token has expired');
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'exp')
      throw new AuthError('the token has no expiry (exp); make a new one with pricealert token');
    throw new AuthError('the token is not valid');
  }
  const role = ROLES.find((known) => known === payload.role);
  if (typeof payload.sub !== 'string' || !isUserId(payload.sub) || !role || payload.exp === undefined)
    throw new AuthError('the token is not valid');
  const from = payload.iat ?? Math.floor(Date.now() / 1000);
  if (payload.exp - from > MAX_TOKEN_TTL_SECONDS)
    throw new AuthError('the token is valid for longer than 365 days; make a new one with pricealert token');
  return { viewer: { userId: payload.sub, role }, expiresAt: payload.exp };
}

/**
 * Reads `Bearer <token>` (the scheme is case-insensitive; a bare token is accepted too, as GraphiQL
 * users often paste one). `undefined` when there is no credential at all.
 */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : header.trim();
}

/** The credential in an optional header: `null` (anonymous) without one, AuthError for a bad one. */
export async function credentialOf(secret: Uint8Array, header: unknown): Promise<Credential | null> {
  const token = bearerToken(header);
  return token === undefined ? null : verifyCredential(secret, token);
}

/** The viewer for an optional credential: anonymous without one, AuthError for a bad one. */
export async function authenticate(secret: Uint8Array, header: unknown): Promise<Viewer | null> {
  return (await credentialOf(secret, header))?.viewer ?? null;
}
