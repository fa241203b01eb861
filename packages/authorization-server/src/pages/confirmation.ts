/**
 * The forms of every confirmation page (issue 13): a page shown in answer to a POST that names what an action will do
 * before it is done, then sends the same POST again with `confirm=yes`. Such a page has no address of its own, so its
 * language switch cannot be a link (GET /language went back to the page the action started from, and the action
 * waiting for confirmation was lost): it posts the same values again, from a form of its own, without `confirm` and
 * with the `locale` chosen (layout.ts `LanguageForm`), and the handler shows the same confirmation in that language
 * and never acts on it (endpoints/confirmation.ts). Every confirmation page draws its forms here, so every one of
 * them has this switch: the portal's, the account's, the API keys', the webhooks', the sessions' and the console's.
 */
import { html, type SafeHtml } from './html.ts';
import type { LanguageForm } from './layout.ts';

export interface Confirmation {
  /** The page's CSRF token (both forms carry it). */
  csrfToken: string;
  /** Where both forms post: the action's own address, which first answered with this page. */
  action: string;
  /** The form's values to send again, with `confirm=yes` and by the language switch (a list: one input per value, as checkboxes send them). */
  hidden?: Record<string, string | string[]>;
  /** The button that acts, named for what it does. */
  confirmLabel: string;
  /** `danger` (default) for what removes or stops something; `primary` for what adds (the permissions dialog's Allow). */
  confirmStyle?: 'danger' | 'primary';
  /** Where Cancel goes: the page the action was started from. */
  cancelHref: string;
  cancelLabel: string;
}

/** The `id` of the form a confirmation page's language switch submits. */
const CONFIRMATION_LANGUAGE_FORM = 'confirmation-language';

/**
 * The confirmation's two forms: the one that acts (`confirm=yes`, with Cancel), and the hidden one its language switch
 * submits (the same values without `confirm`). Pass `languageForm` to `layout` (through the page's frame).
 */
export function confirmationForms(confirmation: Confirmation): { forms: SafeHtml; languageForm: LanguageForm } {
  const hidden = Object.entries(confirmation.hidden ?? {})
    .flatMap(([name, values]) => (Array.isArray(values) ? values : [values]).map((value) => html`<input type="hidden" name="${name}" value="${value}">`));
  return {
    forms: html`<form method="post" action="${confirmation.action}">
  <input type="hidden" name="_csrf" value="${confirmation.csrfToken}">
  ${hidden}
  <input type="hidden" name="confirm" value="yes">
  <div class="actions"><a class="button secondary" href="${confirmation.cancelHref}">${confirmation.cancelLabel}</a><button class="${confirmation.confirmStyle ?? 'danger'}" type="submit">${confirmation.confirmLabel}</button></div>
</form>
<form method="post" action="${confirmation.action}" id="${CONFIRMATION_LANGUAGE_FORM}">
  <input type="hidden" name="_csrf" value="${confirmation.csrfToken}">
  ${hidden}
</form>`,
    languageForm: { form: CONFIRMATION_LANGUAGE_FORM, action: confirmation.action },
  };
}
