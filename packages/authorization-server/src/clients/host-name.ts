/**
 * Host names in registered URIs (redirect URIs and the page URIs a consent page links to).
 *
 * - Internationalized host names are stored in their ASCII form (UTS #46 / RFC 5891 A-labels, as the
 *   WHATWG URL parser writes them: `bücher.example` → `xn--bcher-kva.example`), the rest of the URI
 *   verbatim. Browsers and HTTP clients reach that host by its ASCII form, and the authorization
 *   endpoint compares `redirect_uri` with the stored string exactly (SPEC decision 4), so a client
 *   sends the ASCII form it got back from registration.
 * - A host label that mixes scripts (UTS #39 §5.1 mixed-script detection: Latin with Cyrillic,
 *   `pаypal` with a Cyrillic `а`) is refused: it exists to pass for another host.
 */
import { domainToUnicode } from 'node:url';
import { isMixedScript } from 'unicode-script';

/** `scheme://authority` at the start of a URI; the authority ends at `/`, `?`, `#` or `\` (WHATWG, special schemes). */
const SCHEME_AND_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#\\]*)/i;
/** Printable ASCII without `%`: a host written this way is already in its ASCII form (case aside). */
const PLAIN_ASCII = /^[\x21-\x24\x26-\x7e]*$/;

/** The URL of an http(s) URI, or undefined for other schemes and unparsable strings. */
function parseWebUrl(uri: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
}

/**
 * Checks the host of an http(s) URI. Other schemes (private-use redirect schemes) have no DNS host.
 * @returns why the host is refused, or undefined.
 */
export function hostNameProblem(uri: string): string | undefined {
  const url = parseWebUrl(uri);
  if (url === undefined || url.hostname.startsWith('[')) return undefined;
  // RFC 3986 §3.2: the authority follows `//`. WHATWG also reads `https:host` and `https:\\host`;
  // such a string is not what a client sends, and its host could not be rewritten in place.
  // An empty authority too (`https:///app.example/cb`): WHATWG skips the extra slashes and finds a host, RFC 3986 §3.2.2 none.
  if (!SCHEME_AND_AUTHORITY.test(uri) || SCHEME_AND_AUTHORITY.exec(uri)![2] === '') return 'must be written as scheme://host (RFC 3986 section 3.2)';
  // UTS #39 §5.1: a label whose resolved script set is empty mixes scripts (digits and `-` are Common).
  for (const label of domainToUnicode(url.hostname).split('.')) {
    if (isMixedScript(label)) return `has a host label that mixes scripts (${label}, UTS #39 section 5.1)`;
  }
  return undefined;
}

/**
 * The URI with an internationalized host replaced by its ASCII form (what `new URL()` computes,
 * lower case), every other character kept as written: path, query and port are compared byte for byte
 * at the authorization endpoint. A host already written in ASCII is returned untouched.
 * Call on URIs that passed validation.
 */
export function withAsciiHost(uri: string): string {
  const url = parseWebUrl(uri);
  const match = SCHEME_AND_AUTHORITY.exec(uri);
  if (url === undefined || match === null) return uri;
  const [prefix, scheme, authority] = match as unknown as [string, string, string];
  if (PLAIN_ASCII.test(authority)) return uri;
  // No user-info here (refused before), and a non-ASCII host is never an IPv6 literal: the port, if
  // any, is what follows the last colon.
  const port = /:[0-9]*$/.exec(authority)?.[0] ?? '';
  return `${scheme}${url.hostname}${port}${uri.slice(prefix.length)}`;
}
