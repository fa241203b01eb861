/**
 * The consent page (SPEC decision 11): brand, client name, logo, client URI host, terms and privacy
 * links, each requested scope in words, and the subject to connect (a picker named `subject` whose
 * values are subject URNs). Two submit buttons named `decision`: `allow` and `deny`. The request itself stays
 * server-side: the form carries only the CSRF token, the interaction id and those choices. The logo is the uploaded
 * one (served at `/logos/<client_id>`); a client whose branding the platform has not reviewed gets an
 * "Unverified app" notice.
 */
import { html } from './html.ts';
import { layout } from './layout.ts';

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
  scopes: { name: string; description: string }[];
  subjectTypeLabel: string;
  subjects: { urn: string; name: string; selected: boolean }[];
  /** The interaction holding the authorization request server-side (SPEC decision 11): the only request field the form carries. */
  interactionId: string;
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
  return layout(model.brandName, `Connect ${client.clientName}`, html`<div class="client">
  ${client.logoUri ? html`<img src="${client.logoUri}" alt="${client.clientName} logo">` : ''}
  <div><h1>${client.clientName} wants to access your ${model.brandName} account</h1>
  ${clientHost ? html`<div class="muted">${clientHost}</div>` : ''}</div>
</div>
${client.brandingVerified ? '' : html`<p class="unverified" role="note"><strong>Unverified app.</strong> ${model.brandName} has not yet reviewed this app's name and logo. Connect it only if you know and trust its developer.</p>`}
<p class="muted">Logged in as ${model.userName}.</p>
<form method="post" action="/oauth/authorize/decision">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="interaction" value="${model.interactionId}">
  <label for="subject">${model.subjectTypeLabel} to connect</label>
  <select id="subject" name="subject">
    ${model.subjects.map((subject) => html`<option value="${subject.urn}"${subject.selected ? html` selected` : ''}>${subject.name}</option>`)}
  </select>
  <p><strong>${client.clientName}</strong> will be able to:</p>
  <ul class="scopes">
    ${model.scopes.map((scope) => html`<li>${scope.description} <code class="muted">${scope.name}</code></li>`)}
  </ul>
  <p class="muted">You can disconnect the app at any time; your login is not affected.
  ${client.tosUri ? html`<a href="${client.tosUri}" rel="noopener noreferrer" target="_blank">Terms of service</a>` : ''}
  ${client.policyUri ? html` · <a href="${client.policyUri}" rel="noopener noreferrer" target="_blank">Privacy policy</a>` : ''}</p>
  <p class="muted">After your choice you will be sent to <strong>${model.redirectHost}</strong>.</p>
  <div class="actions">
    <button type="submit" name="decision" value="deny">Deny</button>
    <button class="primary" type="submit" name="decision" value="allow">Allow</button>
  </div>
</form>`, { userName: model.userName, csrfToken: model.csrfToken }); // issue 10 §4: "Sign out" on the consent page too
}
