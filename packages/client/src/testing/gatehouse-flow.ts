/**
 * Test support: the user's side of the flow against the real Gatehouse test server, without a browser:
 * open the SDK's authorization URL, log in, answer the consent page, and return where Gatehouse
 * redirected to (the callback URL with `code`, `state` and `iss`, or an error).
 */
import { Browser, hiddenInputs, inputValue, seed } from '../../../authorization-server/src/testing/harness.ts';

export interface UserSide {
  user?: { email: string; password: string };
  /** Subject URN to pick; default the first option. */
  subject?: string;
  decision?: 'allow' | 'deny';
  browser?: Browser;
}

/** @returns the redirect target (the client's callback) after login and consent. */
export async function completeAuthorizationAsUser(authorizationUrl: URL, side: UserSide = {}): Promise<URL> {
  const browser = side.browser ?? new Browser();
  const origin = authorizationUrl.origin;
  let page = await browser.get(authorizationUrl.href);
  if (page.status === 200 && /action="\/login[?"]/.test(page.text)) {
    const user = side.user ?? seed.users.alice;
    const login = await browser.post(`${origin}/login`, {
      _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: user.email, password: user.password,
    });
    if (login.status !== 303 || !login.location) throw new Error(`login failed with ${login.status}`);
    page = await browser.get(new URL(login.location, origin).href);
  }
  if (page.status === 200 && page.text.includes('action="/oauth/authorize/decision"')) {
    const subject = side.subject ?? /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    page = await browser.post(`${origin}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: side.decision ?? 'allow' });
  }
  if (page.status !== 303 || !page.location) throw new Error(`expected a redirect, got ${page.status}: ${page.text.slice(0, 300)}`);
  return new URL(page.location);
}
