/**
 * Rules for registering a redirect URI (SPEC decision 4, seeds "Redirect URI security requirements").
 * At the authorization endpoint URIs are compared as exact strings (authorization.ts), so nothing here
 * normalizes: the string is stored as given.
 */
import type { Environment } from '../options.ts';
import type { ClientType } from '../storage/storage.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Returns why the URI cannot be registered, or undefined when it can. */
export function redirectUriProblem(uri: string, clientType: ClientType, environment: Environment): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URI (RFC 6749 §3.1.2)';
  }
  // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
  if (uri.includes('#')) return 'must not contain a fragment (RFC 6749 §3.1.2)';
  if (uri.includes('*')) return 'must not contain a wildcard (exact match only)';
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) return 'must not contain user information';
  if (/\s/.test(uri)) return 'must not contain white space';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    // Seeds: "HTTP allowed only for localhost during development"; SPEC §2 lets staging use it too.
    if (!LOOPBACK_HOSTS.has(url.hostname)) return 'must use https (http is allowed only for localhost, 127.0.0.1 or [::1])';
    if (environment === 'production') return 'must use https in production (no localhost redirect URIs)';
    return undefined;
  }
  // RFC 8252 §7.1: private-use schemes are reverse domain names, for native (public) clients only.
  const scheme = url.protocol.slice(0, -1);
  if (!scheme.includes('.')) return `scheme "${scheme}" is not allowed (https, loopback http, or a reverse-domain private-use scheme)`;
  if (clientType !== 'public') return 'private-use URI schemes are allowed only for public clients (RFC 8252 §7.1)';
  return undefined;
}
