// Queries and mutations over HTTP (so that errors arrive whole, with `extensions.field`), and the
// token this browser keeps.
export interface ApiErrorEntry {
  message: string;
  extensions?: { code?: string; field?: string };
}

export class ApiError extends Error {
  constructor(readonly errors: ApiErrorEntry[]) {
    super(errors.map((error) => error.message).join('; '));
  }
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

export const GRAPHQL_URL = `${location.origin}/graphql`;
const TOKEN_KEY = 'pricealert.token';

export const storedToken = (): string | null => localStorage.getItem(TOKEN_KEY);
export const storeToken = (token: string | null): void =>
  token === null ? localStorage.removeItem(TOKEN_KEY) : localStorage.setItem(TOKEN_KEY, token);

/** The user a token names (its `sub`), read without verifying: the server does that. */
export function userOf(token: string): string | undefined {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

export interface GqlBody<T> {
  data?: T | null;
  errors?: (ApiErrorEntry & { path?: (string | number)[] })[];
}

/** A request whose fields may fail one by one: the data and the errors, both. */
export async function gqlPartial<T>(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlBody<T>> {
  const token = storedToken();
  const response = await fetch(GRAPHQL_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  try {
    return (await response.json()) as GqlBody<T>;
  } catch {
    throw new ApiError([{ message: `the server answered ${response.status} without JSON` }]);
  }
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const body = await gqlPartial<T>(query, variables);
  if (body.errors?.length) throw new ApiError(body.errors);
  if (!body.data) throw new ApiError([{ message: 'the server answered without data' }]);
  return body.data;
}

/** The input field an error is about: `extensions.field`, else the one a bad variable names (`at "input.threshold"`). */
export function fieldOf(error: ApiErrorEntry): string | undefined {
  const named = error.extensions?.field ?? /at "[^".]+\.([\w.]+)"/.exec(error.message)?.[1];
  return named?.split('.').pop();
}

/** Mints a token with the server's secret; only a server bound to a loopback address agrees. */
export async function devToken(userId: string): Promise<string> {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const body = (await response.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!response.ok || !body.token) throw new Error(body.message ?? `the server answered ${response.status}`);
  return body.token;
}

/** A trade or trigger time (microseconds allowed) as the chart's whole seconds. */
export const secondsOf = (time: string): number => Math.floor(Date.parse(time) / 1000);

/** A window name such as `10m` in seconds; undefined for `all`. */
export function windowSeconds(name: string): number | undefined {
  const match = /^(\d+)(s|m|h|d)$/.exec(name);
  if (!match) return undefined;
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 's' | 'm' | 'h' | 'd'];
}
