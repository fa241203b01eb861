/**
 * Rules for registering a redirect URI (SPEC decision 4, seeds "Redirect URI security requirements").
 * At the authorization endpoint URIs are compared as exact strings (authorization.ts), so nothing here
 * normalizes: the string is stored as given, except an internationalized host, stored in its ASCII
 * form (host-name.ts, applied by registration.ts).
 */
import type { Environment } from '../options.ts';
import type { ClientType } from '../storage/storage.ts';
import { isLoopbackHostname } from '@gatehouse/protocol';
import { hostNameProblem, withAsciiHost } from './host-name.ts';
import { isIP } from 'node:net';
import { isPublicAddress } from './public-address.ts';

/**
 * The answers already given, keyed by environment, client type and URI (the first two hold no space, so
 * the key is unambiguous). The check is a pure function of those three, and the authorization endpoint
 * runs it on every request for one of a few registered URIs: parsing the URL and resolving the host's
 * scripts each time was most of its cost (bench/README.md, "flow with session"). Bounded: past
 * REMEMBERED_AT_MOST the oldest answer is forgotten, so registrations cannot grow it without limit.
 */
const remembered = new Map<string, string | undefined>();
const REMEMBERED_AT_MOST = 10_000;

/** What the authorization response adds to a redirect URI's query (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207 §2). */
const AUTHORIZATION_RESPONSE_PARAMETERS = new Set(['code', 'state', 'iss', 'error', 'error_description', 'error_uri']);

/**
 * The first name in a query (`?…`, as `URL.search` gives it) that the authorization response adds, or undefined.
 * Read as `application/x-www-form-urlencoded` (percent- and `+`-decoded), with `;` as a separator too (HTML 4's
 * recommendation, still followed by some parsers, e.g. Python's before 3.9.2).
 */
export function reservedResponseParameter(search: string): string | undefined {
  for (const part of search.replace(/^\?/, '').split(';')) {
    for (const name of new URLSearchParams(part).keys()) if (AUTHORIZATION_RESPONSE_PARAMETERS.has(name)) return name;
  }
  return undefined;
}

/** Returns why the URI cannot be registered, or undefined when it can. */
export function redirectUriProblem(uri: string, clientType: ClientType, environment: Environment): string | undefined {
  const key = `${environment} ${clientType} ${uri}`;
  if (remembered.has(key)) return remembered.get(key);
  const problem = checkRedirectUri(uri, clientType, environment);
  if (remembered.size >= REMEMBERED_AT_MOST) remembered.delete(remembered.keys().next().value!);
  remembered.set(key, problem);
  return problem;
}

function checkRedirectUri(uri: string, clientType: ClientType, environment: Environment): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URI (RFC 6749 §3.1.2)';
  }
  // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
  if (uri.includes('#')) return 'must not contain a fragment (RFC 6749 §3.1.2)';
  if (uri.includes('*')) return 'must not contain a wildcard (exact match only)';
  // RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once." The authorization
  // response adds these to the URI's query (§4.1.2, §4.1.2.1, RFC 9207 `iss`): registered in it too, a client
  // reading the first value would take the registered `state` or `iss`, defeating the CSRF and mix-up checks.
  const reserved = reservedResponseParameter(url.search);
  if (reserved !== undefined) return `must not have a query parameter named ${reserved}: the authorization response adds it (RFC 6749 §3.1)`;
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) return 'must not contain user information';
  if (/\s/.test(uri)) return 'must not contain white space';
  // Mixed-script host labels pass for another host (UTS #39 §5.1); the authority must follow `//`.
  const hostProblem = hostNameProblem(uri);
  if (hostProblem) return hostProblem;
  // RFC 3986 §2: these are not URI characters. WHATWG reads `\` as `/` in an http(s) URL, so
  // `https://app.example\.evil.example/cb` is app.example to a browser and another host to a reader or another parser.
  if (/["<>\\^`{|}]/.test(uri)) return 'must contain only URI characters (RFC 3986 section 2): percent-encode backslashes, quotation marks, angle brackets, curly brackets and the characters ^ ` |';
  // RFC 3986 §2 (RFC 6749 §3.1.2: an absolute URI): printable ASCII, anything else percent-encoded; an internationalized
  // host is stored in its ASCII form (host-name.ts). The redirect carries the URI in a Location header, which cannot
  // hold a control character or one beyond U+00FF: such a URI was accepted, and every redirect to it was a 500.
  const ascii = asciiUriProblem(uri);
  if (ascii) return ascii;
  // Port 0 is no port a browser can be sent to (RFC 6335 §6: reserved).
  if (url.port === '0') return 'must not use port 0';
  if (url.protocol === 'https:') {
    // Seeds: "Must be publicly accessible (except localhost for development)".
    if (environment === 'production' && !isPublicHostname(url.hostname)) {
      return 'must be publicly accessible in production (no localhost or private addresses)';
    }
    return undefined;
  }
  if (url.protocol === 'http:') {
    // Seeds: "HTTP allowed only for localhost during development"; SPEC §2 lets staging use it too.
    if (!isLoopbackHostname(url.hostname)) return 'must use https (http is allowed only for localhost, 127.0.0.1 or [::1])';
    // SPEC decision 4 names these three hosts as written: another spelling the URL parser maps onto one of them
    // (`0x7f000001`, `127.1`, `[0:0:0:0:0:0:0:1]`) would be stored, and compared, as something else.
    const writtenHost = /^http:\/\/(\[[^\]]*\]|[^/?#:]*)/i.exec(uri)?.[1]?.toLowerCase() ?? '';
    if (!isLoopbackHostname(writtenHost)) return 'must name the loopback host as localhost, 127.0.0.1 or [::1]';
    if (environment === 'production') return 'must use https in production (no localhost redirect URIs)';
    return undefined;
  }
  // RFC 8252 §7.1: private-use schemes are reverse domain names, for native (public) clients only.
  const scheme = url.protocol.slice(0, -1);
  if (!scheme.includes('.')) return `scheme "${scheme}" is not allowed (https, loopback http, or a reverse-domain private-use scheme)`;
  if (clientType !== 'public') return 'private-use URI schemes are allowed only for public clients (RFC 8252 §7.1)';
  return undefined;
}

/**
 * False for a host that is not on the public internet by its name alone: the loopback names and literals,
 * names under `localhost`, and IP literals of private, link-local or unspecified ranges (the rule for redirect URIs
 * in production, and for webhook URLs in staging and production). A public name may still resolve to a private address: webhook deliveries check
 * the addresses they connect to (public-address.ts `isPublicAddress`, in webhooks/webhook-worker.ts `post`).
 */
export function isPublicHostname(hostname: string): boolean {
  return !isLoopbackHostname(hostname) && !namesLocalhost(hostname) && !isPrivateAddress(hostname);
}

/** `localhost.` and every name under `localhost` (`app.localhost`): loopback by RFC 6761 §6.3, never a public host. */
function namesLocalhost(hostname: string): boolean {
  return /(^|\.)localhost\.?$/.test(hostname);
}

/** IP literals (`10.0.0.1`, `[fd00::1]`) that are not public unicast addresses (public-address.ts: private, link-local, loopback, reserved…). */
function isPrivateAddress(hostname: string): boolean {
  const literal = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(literal) !== 0 && !isPublicAddress(literal);
}

/**
 * A URI compared exactly (a redirect URI, a resource server's audience) is refused, not encoded, when it holds a
 * character outside printable ASCII (RFC 3986 §2.1) outside an internationalized host.
 * @returns why, or undefined.
 */
export function asciiUriProblem(uri: string): string | undefined {
  return /[^\x21-\x7E]/.test(withAsciiHost(uri)) ? 'must be written in ASCII: percent-encode other characters (RFC 3986 section 2.1)' : undefined;
}
