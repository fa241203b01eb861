/**
 * Issue 10 §1: the page a signed-in user sees at /oauth/authorize when they administer no subject of the
 * type the app connects (no company, or no organization): what is wrong, and the ways onward — back to
 * the app (only then does the app get `access_denied`), or sign out to sign in as someone else.
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { html } from './html.ts';
import { layout } from './layout.ts';

export interface NoSubjectPageModel {
  brandName: string;
  csrfToken: string;
  userName: string;
  userEmail: string;
  clientName: string;
  /** `company` or `organization`. */
  subjectType: string;
  /** The client's redirect URI with `error=access_denied`, `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207). */
  backToAppUrl: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

export function noSubjectPage(model: NoSubjectPageModel): string {
  const t = model.t ?? ENGLISH;
  const subjectType = model.subjectType;
  return layout(model.brandName, t.t('noSubject.title', { subjectType }), html`<h1>${t.t('noSubject.heading', { subjectType })}</h1>
<p class="error" role="alert">${t.t('noSubject.explanation', { client: model.clientName, subjectType, email: model.userEmail, brand: model.brandName })}</p>
<p class="muted">${t.t('noSubject.hint', { subjectType })}</p>
<div class="actions"><a class="button primary" href="${model.backToAppUrl}">${t.t('noSubject.back', { client: model.clientName })}</a></div>`,
  { userName: model.userName, csrfToken: model.csrfToken }, t);
}
