/**
 * How the client reaches the authorization server and the API: HTTPS only (seeds, "PKCE and Secured
 * Patterns": all OAuth-related communication must occur over HTTPS), except plain HTTP to a loopback
 * host, which the development environment uses (`http://localhost:3000`). oauth4webapi's
 * `allowInsecureRequests` is switched on for exactly that case and never otherwise.
 */
import { isLoopbackHttpUrl } from '@gatehouse/protocol';
import * as oauth from 'oauth4webapi';
import { TransportError } from './errors.ts';
import { parseRetryAfter, type TransientFailure } from './backoff.ts';

/** Settings shared by every request. */
export interface TransportSettings {
  /** True only when the issuer is `http:` on a loopback host. */
  allowLoopbackHttp: boolean;
  /** Per-request timeout, milliseconds. */
  timeoutMilliseconds: number;
  /** Replaces the global `fetch` (tests, proxies). */
  fetch: typeof fetch | undefined;
}

/** `https:`, or loopback `http:` when allowed. */
export function isAllowedUrl(url: URL, allowLoopbackHttp: boolean): boolean {
  return url.protocol === 'https:' || (allowLoopbackHttp && isLoopbackHttpUrl(url));
}

/** oauth4webapi request options, valid for every request function (GET or POST, any body). */
export interface RequestOptions {
  signal: () => AbortSignal;
  [oauth.allowInsecureRequests]?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: one fetch replacement serves every method and body type.
  [oauth.customFetch]?: (url: string, options: oauth.CustomFetchOptions<any, any>) => Promise<Response>;
}

/** oauth4webapi request options for these settings. */
export function requestOptions(settings: TransportSettings): RequestOptions {
  const options: RequestOptions = { signal: () => AbortSignal.timeout(settings.timeoutMilliseconds) };
  if (settings.allowLoopbackHttp) options[oauth.allowInsecureRequests] = true;
  if (settings.fetch) {
    const replacement = settings.fetch;
    options[oauth.customFetch] = (url, init) => replacement(url, init as RequestInit);
  }
  return options;
}

/** A failed `fetch` (no HTTP response at all) as a `TransportError`. */
export function networkFailure(error: unknown, what: string): TransportError {
  const name = (error as { name?: string } | undefined)?.name;
  const timedOut = name === 'TimeoutError' || name === 'AbortError';
  const code = (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  return new TransportError(`${what} ${timedOut ? 'timed out' : `failed${code ? ` (${code})` : ''}`}`, timedOut ? 'timeout' : 'network');
}

/**
 * A 5xx or 429 response as a `TransportError` (worth retrying), after discarding its body;
 * undefined for any other status.
 */
export async function overloadFailure(response: Response, what: string): Promise<TransportError | undefined> {
  if (response.status < 500 && response.status !== 429) return undefined;
  await response.body?.cancel().catch(() => {});
  return new TransportError(`${what} answered HTTP ${response.status}`, `http_${response.status}`, parseRetryAfter(response.headers.get('retry-after'), Date.now()));
}

/** The backoff classification of this package: a `TransportError` is worth retrying, anything else is not. */
export function transientFailureOf(error: unknown): TransientFailure | undefined {
  return error instanceof TransportError ? { reason: error.reason, retryAfterMilliseconds: error.retryAfterMilliseconds } : undefined;
}
