/**
 * Issue 10 §1: the page a signed-in user sees at /oauth/authorize when they administer no subject of the
 * type the app connects (no company, or no organization): what is wrong, and the ways onward — back to
 * the app (only then does the app get `access_denied`), or sign out to sign in as someone else.
 */
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
}

export function noSubjectPage(model: NoSubjectPageModel): string {
  return layout(model.brandName, `No ${model.subjectType} to connect`, html`<h1>You have no ${model.subjectType} to connect</h1>
<p class="error" role="alert">${model.clientName} connects to a ${model.subjectType}, and you (${model.userEmail}) are not an administrator of any ${model.subjectType} in ${model.brandName}.</p>
<p class="muted">Ask an administrator of your ${model.subjectType} to add you, or sign out and sign in with another account.</p>
<div class="actions"><a class="button primary" href="${model.backToAppUrl}">Back to ${model.clientName}</a></div>`,
  { userName: model.userName, csrfToken: model.csrfToken });
}
