// Where a webhook may be sent: http(s) URLs whose host resolves only to public unicast addresses, checked
// when the endpoint is registered and again on the address each connection actually uses, so a DNS
// answer that changes between the two (rebinding) cannot reach a private or metadata address.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export const MAX_URL_LENGTH = 2048;

/** Cloud metadata services: refused even when private targets are allowed. */
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254']);

export type TargetCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Why an address may not be a webhook target, or undefined when it may. Only public unicast addresses
 * pass; `allowPrivate` also lets loopback, private, link-local and unique-local ones through (never a
 * metadata service or the unspecified address, which reaches the local host).
 */
export function refusedAddress(address: string, allowPrivate: boolean): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const parsed = ipaddr.process(address);
  const normal = parsed.toNormalizedString();
  const text = parsed.kind() === 'ipv6' ? ipaddr.IPv6.parse(normal).toString() : normal;
  if (METADATA.has(text)) return `${text} is a cloud metadata address`;
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  const privateRanges = ['loopback', 'private', 'linkLocal', 'uniqueLocal', 'carrierGradeNat'];
  if (allowPrivate && privateRanges.includes(range)) return undefined;
  return `${text} is a ${range} address`;
}

/** The URL if it is an absolute http(s) URL without credentials, else why not. No DNS. */
export function parseTargetUrl(text: string): TargetCheck {
  if (text.length > MAX_URL_LENGTH)
    return { ok: false, reason: `must be at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'must be an absolute URL such as https://example.com/hook' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: 'must be http or https' };
  if (url.username || url.password) return { ok: false, reason: 'must not carry a user name or password' };
  if (!url.hostname) return { ok: false, reason: 'must name a host' };
  return { ok: true, url };
}

/** The host as node's resolver and `isIP` take it: IPv6 literals without their brackets. */
const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Checks a URL and every address its host resolves to now; used when an endpoint is registered. */
export async function checkTarget(text: string, allowPrivate: boolean): Promise<TargetCheck> {
  const parsed = parseTargetUrl(text);
  if (!parsed.ok) return parsed;
  const host = hostOf(parsed.url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolveAll(host)).map((entry) => entry.address);
    } catch {
      return { ok: false, reason: `its host ${host} does not resolve` };
    }
  }
  for (const address of addresses) {
    const refused = refusedAddress(address, allowPrivate);
    if (refused) return { ok: false, reason: `must not point at a private or internal address (${refused})` };
  }
  return parsed;
}

const resolveAll = (host: string): Promise<LookupAddress[]> =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/**
 * A `lookup` for node's http(s) requests that fails the connection when the host resolves to any
 * refused address: the address checked is the one the socket connects to.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      for (const entry of list) {
        const refused = refusedAddress(entry.address, allowPrivate);
        if (refused) {
          const failure = Object.assign(new Error(`refused target: ${refused}`), { code: 'EREFUSEDTARGET' });
          return callback(failure, '', 0);
        }
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** The check for a URL whose host is an IP literal (node skips `lookup` for those). */
export function refusedLiteral(url: URL, allowPrivate: boolean): string | undefined {
  const host = hostOf(url);
  return isIP(host) ? refusedAddress(host, allowPrivate) : undefined;
}
