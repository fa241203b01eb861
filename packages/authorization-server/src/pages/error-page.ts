/**
 * The page shown when the authorization server must not redirect: the client or redirect URI is not
 * established (SPEC decision 5), or a form could not be trusted.
 */
import { html } from './html.ts';
import { layout } from './layout.ts';

export function errorPage(brandName: string, title: string, message: string): string {
  return layout(brandName, title, html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
<p class="muted">You were not sent back to the application. If you followed a link from an app, contact its developer.</p>`);
}
