/**
 * Loopback hosts (RFC 8252 §7.3, RFC 8252 §8.3; SPEC decision 4): the hostnames, as `URL.hostname`
 * spells them, for which plain `http:` is tolerated (native-app redirects, a development issuer).
 */
export const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True when `hostname` (as `URL.hostname` gives it, IPv6 in brackets) is a loopback host. */
export function isLoopbackHostname(hostname: string): boolean {
  return LOOPBACK_HOSTNAMES.has(hostname);
}

/** True when `url` is `http:` on a loopback host. */
export function isLoopbackHttpUrl(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTNAMES.has(url.hostname);
}
