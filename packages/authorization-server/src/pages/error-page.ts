/**
 * The page shown when the authorization server must not redirect: the client or redirect URI is not
 * established (SPEC decision 5), or a form could not be trusted.
 *
 * Issue 13: branded, with a way onward (links; by default the home page), and showing, escaped, what was
 * refused (`detail`, e.g. the redirect URI that is not registered). Without `links` the page keeps its
 * authorization wording ("You were not sent back to the application").
 */
import { html } from './html.ts';
import { layout } from './layout.ts';
import { ENGLISH, type Translator } from '../i18n/i18n.ts';

export interface ErrorPageOptions {
  /** What was refused, shown as given (escaped), e.g. `{ label: 'Redirect URI', value: 'https://evil.example/cb' }`. */
  detail?: { label: string; value: string };
  /** Ways onward; the first is the main one. Default: the home page. */
  links?: { href: string; label: string }[];
  /** Replaces the closing line about not being sent back to the application (for portal, console and account forms); null: no closing line. */
  hint?: string | null;
  /**
   * The technical reason in protocol words, for the app's developer, in a small muted line under the
   * user's message (`message` then says it in the user's words). The CLI's probe reads it (class `developer`).
   */
  developer?: string;
  /** The request id (issue 14, http/request-id.ts), shown escaped in a small line that tells the user to give it to support. */
  reference?: string;
  /** The page's language (issue 13): its frame and fixed words; `title`, `message`, `detail`, `links` and `hint` come translated. English when absent. */
  t?: Translator;
}

export function errorPage(brandName: string, title: string, message: string, options: ErrorPageOptions = {}): string {
  const t = options.t ?? ENGLISH;
  const links = options.links ?? [{ href: '/', label: t.t('error.home') }];
  return layout(brandName, title, html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
${options.detail ? html`<dl class="details refused"><dt>${options.detail.label}</dt><dd><code>${options.detail.value}</code></dd></dl>` : ''}
${options.hint === null ? '' : html`<p class="muted">${options.hint ?? t.t('error.notSentBack')}</p>`}
${options.developer ? html`<p class="muted developer">${t.t('error.forDeveloper')} ${options.developer}</p>` : ''}
<p class="onward">${links.map((link, index) => html`${index > 0 ? ' · ' : ''}<a href="${link.href}">${link.label}</a>`)}</p>
${options.reference ? html`<p class="muted reference">${t.t('error.reference')} <code>${options.reference}</code></p>` : ''}`, undefined, t);
}
