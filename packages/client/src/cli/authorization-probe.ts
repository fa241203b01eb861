/**
 * Whether the authorization server will ever send the browser back to the redirect URI.
 *
 * A client cannot read its own registration, so `login` cannot check the redirect URI against the
 * registered ones directly. But the authorization server validates the client and the redirect URI first
 * and, when either is wrong, shows an error page and never redirects (RFC 6749 §4.1.2.1, SPEC decision 5):
 * the browser would sit on that page while `login` waited for a callback that cannot come. So `login`
 * first requests the authorization URL itself, without cookies and without following redirects: an
 * HTTP 4xx HTML page there means the request is refused before any login. Anything else (the login
 * page, a redirect) says nothing is wrong at that stage. The probe carries no credential and no token.
 */

/** `login` stops at once: the authorization server refused the request outright (the message says what to check). */
export class AuthorizationRequestRefusedError extends Error {}

export type ProbeResult =
  | { refused: false }
  /** `message`: the error page's line for the developer (Gatehouse: `<p class="muted developer">`), else its alert text (`<p class="error" role="alert">`). */
  | { refused: true; status: number; message: string | undefined };

/**
 * @param timeoutMilliseconds how long to wait; a probe that fails or times out answers `{ refused: false }`
 *   (the browser step will show the problem instead).
 */
export async function probeAuthorizationRequest(url: URL, fetchImplementation: typeof fetch = fetch, timeoutMilliseconds = 5_000): Promise<ProbeResult> {
  let response: Response;
  try {
    response = await fetchImplementation(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMilliseconds), headers: { accept: 'text/html' } });
  } catch {
    return { refused: false };
  }
  const isHtml = (response.headers.get('content-type') ?? '').includes('text/html');
  if (response.status < 400 || response.status >= 500 || !isHtml) {
    await response.body?.cancel().catch(() => {});
    return { refused: false };
  }
  const page = await response.text().catch(() => '');
  // The line for the app's developer (protocol words) when the page has one, else the user's message.
  const developer = /<p[^>]*class="[^"]*\bdeveloper\b[^"]*"[^>]*>[^<]*?:\s*([^<]{1,300})<\/p>/.exec(page)?.[1];
  const alert = developer ?? /<p[^>]*role="alert"[^>]*>([^<]{1,300})<\/p>/.exec(page)?.[1];
  return { refused: true, status: response.status, message: alert === undefined ? undefined : decodeEntities(alert.trim()) };
}

function decodeEntities(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
