/**
 * "Try the flow" pages of the developer portal (issue 13; endpoints/portal-try-flow.ts): the authorization
 * URL with the form that takes back the address the browser landed on, and what came back. Every value is
 * escaped by `html`; every string is translated (`model.t`).
 */
import { ENGLISH } from '../i18n/i18n.ts';
import type { ClientRecord } from '../storage/storage.ts';
import { fieldDescription, fieldError } from './field-errors.ts';
import { html, type SafeHtml } from './html.ts';
import { SHOWN_ONCE } from './layout.ts';
import { portalFrame, type PortalFrame } from './portal-pages.ts';

/** The client page's section: a registered redirect URI to try, and the button (a POST: it starts a new trial). */
export function tryFlowSection(model: PortalFrame & { client: ClientRecord }): SafeHtml {
  const t = model.t ?? ENGLISH;
  const { client } = model;
  return html`<h2>${t.t('tryFlow.heading')}</h2>
<form method="post" action="/portal/clients/${client.clientId}/try">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="try_redirect_uri">${t.t('tryFlow.redirectUri')}</label>
  <select id="try_redirect_uri" name="redirect_uri" aria-describedby="try_redirect_uri-hint">
    ${client.redirectUris.map((uri) => html`<option value="${uri}">${uri}</option>`)}
  </select>
  <div class="muted" id="try_redirect_uri-hint">${t.t('tryFlow.hint')}</div>
  <div class="actions"><button type="submit">${t.t('tryFlow.button')}</button></div>
</form>`;
}

export function tryFlowPage(model: PortalFrame & { client: ClientRecord; redirectUri: string; authorizationUrl: string; lifetimeMinutes: number }): string {
  const t = model.t ?? ENGLISH;
  const { client } = model;
  return portalFrame(model, t.t('tryFlow.title', { client: client.clientName }), html`<h1>${t.t('tryFlow.heading')}</h1>
<p><a href="/portal/clients/${client.clientId}">${client.clientName}</a></p>
<ol class="steps">
  <li><p>${t.t('tryFlow.step1')}</p>
    <p><a class="button primary" href="${model.authorizationUrl}" target="_blank" rel="noopener noreferrer">${t.t('tryFlow.open')}</a></p>
    <details><summary>${t.t('tryFlow.showUrl')}</summary><p class="copyable"><code>${model.authorizationUrl}</code></p></details></li>
  <li><p>${t.t('tryFlow.step2', { redirectUri: model.redirectUri })}</p></li>
  <li>${pasteForm(model)}</li>
</ol>`);
}

/** The form that takes back the address the browser landed on; a refused address stays in it, its reason below. */
function pasteForm(model: PortalFrame & { client: ClientRecord; lifetimeMinutes: number; pasted?: string; problem?: string | undefined }): SafeHtml {
  const t = model.t ?? ENGLISH;
  return html`<form method="post" action="/portal/clients/${model.client.clientId}/try/result">
    <input type="hidden" name="_csrf" value="${model.csrfToken}">
    <label for="callback_url">${t.t('tryFlow.pasteLabel')}</label>
    <textarea id="callback_url" name="callback_url" rows="3" required${fieldDescription('callback_url', model.problem)}>${model.pasted ?? ''}</textarea>
    ${fieldError('callback_url', model.problem)}<div class="muted" id="callback_url-hint">${t.t('tryFlow.pasteHint', { minutes: model.lifetimeMinutes })}</div>
    <div class="actions"><button class="primary" type="submit">${t.t('tryFlow.show')}</button></div>
  </form>`;
}

/**
 * What came back from a trial. A code is shown once (SHOWN_ONCE: the language switch opens in a new tab): it is
 * single-use and, with the verifier in the exchange command, redeems a token; the page answers the pasted address
 * (a POST) and could only be shown again by carrying the code in a URL, which is not done. An error or a refused
 * address holds no secret and is not marked.
 */
export function tryFlowResultPage(model: PortalFrame & {
  client: ClientRecord; pasted: string; problem?: string; lifetimeMinutes: number; error?: string; errorDescription?: string | undefined; code?: string; state?: string; issuerChecked?: boolean;
  exchange?: { tokenEndpoint: string; redirectUri: string; codeVerifier: string };
}): string {
  const t = model.t ?? ENGLISH;
  const { client } = model;
  const confidential = client.clientType === 'confidential';
  const curl = model.exchange && model.code
    ? `curl -s ${confidential ? `-u "${client.clientId}:$GATEHOUSE_CLIENT_SECRET" ` : ''}${model.exchange.tokenEndpoint} \\
  -d grant_type=authorization_code -d code=${model.code} \\
  --data-urlencode redirect_uri=${model.exchange.redirectUri} -d code_verifier=${model.exchange.codeVerifier}${confidential ? '' : ` \\\n  -d client_id=${client.clientId}`}`
    : '';
  return portalFrame(model, t.t('tryFlow.resultTitle', { client: client.clientName }), html`<h1>${t.t('tryFlow.resultHeading')}</h1>
<p><a href="/portal/clients/${client.clientId}">${client.clientName}</a></p>
${model.problem ? html`${pasteForm(model)}
<p><a href="/portal/clients/${client.clientId}#try">${t.t('tryFlow.again')}</a></p>` : ''}
${model.error ? html`<div class="error" role="alert"><p>${t.t('tryFlow.errorCameBack')}</p>
<dl class="details"><dt><code>error</code></dt><dd><code>${model.error}</code></dd>${model.errorDescription ? html`<dt><code>error_description</code></dt><dd>${model.errorDescription}</dd>` : ''}<dt><code>state</code></dt><dd>${t.t('tryFlow.stateMatches')}</dd></dl></div>
<p><a href="/portal/clients/${client.clientId}">${t.t('tryFlow.again')}</a></p>` : ''}
${model.code ? html`<p class="notice" role="status">${t.t('tryFlow.codeCameBack')}</p>
<dl class="details"${SHOWN_ONCE}><dt><code>code</code></dt><dd><code>${model.code}</code></dd><dt><code>state</code></dt><dd>${t.t('tryFlow.stateMatches')}</dd>
<dt><code>iss</code></dt><dd>${model.issuerChecked ? t.t('tryFlow.issuerMatches') : t.t('tryFlow.issuerMissing')}</dd></dl>
<h2 id="exchange-title">${t.t('tryFlow.exchangeHeading')}</h2>
<p>${t.t('tryFlow.exchangeText')}</p>
<div class="snippet"><pre tabindex="0" aria-labelledby="exchange-title"><code id="try_exchange">${curl}</code></pre>
<button type="button" class="copy" data-copy="try_exchange" data-copied="${t.t('portal.copied')}" aria-label="${t.t('portal.copyNamed', { what: t.t('tryFlow.exchangeHeading') })}">${t.t('portal.copy')}</button></div>` : ''}`);
}
