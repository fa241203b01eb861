/**
 * The consent page (SPEC decision 11): brand, client name, logo, client URI host, terms and privacy
 * links, each requested scope in words, and the subject to connect (a picker named `subject` whose
 * values are subject URNs). Two submit buttons named `decision`: `allow` and `deny`. The request itself stays
 * server-side: the form carries only the CSRF token, the interaction id and those choices. The logo is the uploaded
 * one (served at `/logos/<client_id>`); a client whose branding the platform has not reviewed gets an
 * "Unverified app" notice. Its language switch submits the form (`CONSENT_LANGUAGE_FORM`).
 */
import { fieldDescription, fieldError } from './field-errors.ts';
import { html } from './html.ts';
import { layout } from './layout.ts';
import { ENGLISH, type Translator } from '../i18n/i18n.ts';

/**
 * The consent page's language switch submits the consent form (layout.ts LanguageForm) to POST /oauth/authorize/language
 * (endpoints/authorization.ts `consentLanguageEndpoint`), which redirects to GET /oauth/authorize/consent: this page of
 * the same request again in the language chosen, with the company picked still picked, at an address a reload shows again. A link could carry neither the pick nor the request: the
 * page's own address may hold a request_uri its GET spent (RFC 9126 §7.3).
 */
export const CONSENT_LANGUAGE_FORM = { form: 'consent', action: '/oauth/authorize/language', noValidate: true } as const;

export interface ConsentPageModel {
  brandName: string;
  csrfToken: string;
  userName: string;
  client: {
    clientName: string; logoUri: string | null; clientUri: string | null; tosUri: string | null; policyUri: string | null;
    /** False until an administrator reviewed the name and logo: the page says so (issue 3, "unverified" hint). */
    brandingVerified: boolean;
  };
  redirectHost: string;
  /** The description is in the page's language (`t.scope(name)`). */
  scopes: { name: string; description: string }[];
  /** `company` or `organization`: the picker's label. */
  subjectType: string;
  /** None selected: the picker starts with a "Choose a company" placeholder and must be answered before Allow. */
  subjects: { urn: string; name: string; selected: boolean }[];
  /** The subject picked before a language switch is no longer one the user may connect: said beside the picker (none is selected). */
  pickGone?: boolean;
  /** The interaction holding the authorization request server-side (SPEC decision 11): the only request field the form carries. */
  interactionId: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

export function consentPage(model: ConsentPageModel): string {
  const { client } = model;
  const hostOf = (uri: string | null) => {
    try {
      return uri ? new URL(uri).host : undefined;
    } catch {
      return undefined;
    }
  };
  const clientHost = hostOf(client.clientUri);
  const t = model.t ?? ENGLISH;
  const nothingSelected = !model.subjects.some((subject) => subject.selected);
  const pickGone = model.pickGone ? t.t('consent.pickGone', { subjectType: model.subjectType }) : undefined;
  return layout(model.brandName, t.t('consent.title', { client: client.clientName }), html`<div class="client">
  ${client.logoUri ? html`<img src="${client.logoUri}" alt="${t.t('consent.logoAlt', { client: client.clientName })}">` : ''}
  <div><h1>${t.t('consent.heading', { client: client.clientName, brand: model.brandName })}</h1>
  ${clientHost ? html`<div class="muted">${clientHost}</div>` : ''}</div>
</div>
${client.brandingVerified ? '' : html`<p class="unverified" role="note">${t.html('consent.unverified', { brand: model.brandName })}</p>`}
<p class="muted">${t.t('consent.loggedInAs', { user: model.userName })}</p>
<form method="post" action="/oauth/authorize/decision" id="consent">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="interaction" value="${model.interactionId}">
  <label for="subject">${t.t('consent.subjectToConnect', { subjectType: model.subjectType })}</label>
  <select id="subject" name="subject"${nothingSelected ? html` required` : ''}${fieldDescription('subject', pickGone, false)}>
    ${nothingSelected ? html`<option value="" disabled selected>${t.t('consent.choosePlaceholder', { subjectType: model.subjectType })}</option>` : ''}
    ${model.subjects.map((subject) => html`<option value="${subject.urn}"${subject.selected ? html` selected` : ''}>${subject.name}</option>`)}
  </select>
  ${fieldError('subject', pickGone)}
  <p>${t.html('consent.willBeAbleTo', { client: client.clientName })}</p>
  <ul class="scopes">
    ${model.scopes.map((scope) => html`<li>${scope.description} <code class="muted">${scope.name}</code></li>`)}
  </ul>
  <p class="muted">${t.t('consent.disconnectAnyTime')}
  ${client.tosUri ? html`<a href="${client.tosUri}" rel="noopener noreferrer" target="_blank">${t.t('consent.terms')}</a>` : ''}
  ${client.policyUri ? html` · <a href="${client.policyUri}" rel="noopener noreferrer" target="_blank">${t.t('consent.privacy')}</a>` : ''}</p>
  <p class="muted">${t.html('consent.sentTo', { host: model.redirectHost })}</p>
  <div class="actions">
    <button type="submit" name="decision" value="deny"${nothingSelected ? html` formnovalidate` : ''}>${t.t('consent.deny')}</button>
    <button class="primary" type="submit" name="decision" value="allow">${t.t('consent.allow')}</button>
  </div>
</form>`, { userName: model.userName, csrfToken: model.csrfToken }, t, CONSENT_LANGUAGE_FORM); // issue 10 §4: "Sign out" on the consent page too
}
