/**
 * A refused field's message and the attributes that tie it to its field (WCAG 2.2 SC 1.3.1 and 3.3.1):
 * the message sits right below the field with the id `<name>-error`, and the field names it (and its hint,
 * `<name>-hint`, when there is one) in `aria-describedby`, with `aria-invalid="true"`. Every page's form uses
 * these two, so a screen reader hears the same thing on every page.
 */
import type { Translator } from '../i18n/i18n.ts';
import { html, type SafeHtml } from './html.ts';

/** The message below a refused field; nothing when `message` is absent. */
export function fieldError(name: string, message: string | undefined): SafeHtml {
  return message ? html`<p class="field-error" id="${name}-error">${message}</p>` : html``;
}

/** ` aria-describedby="…"` (the hint when `hasHint`, the error when refused) and ` aria-invalid="true"` when refused. */
export function fieldDescription(name: string, message: string | undefined, hasHint = true): SafeHtml {
  const ids = [hasHint ? `${name}-hint` : '', message ? `${name}-error` : ''].filter(Boolean).join(' ');
  return html`${ids ? html` aria-describedby="${ids}"` : ''}${message ? html` aria-invalid="true"` : ''}`;
}

/** One refused field in an error summary: the id the link jumps to, the field's label, its message. */
export interface RefusedField {
  readonly anchor: string;
  readonly label: string;
  readonly message: string;
}

/**
 * Every refused field listed above the form, each a link to its field (WCAG 2.2 SC 3.3.1); the messages also
 * stand beside the fields (`fieldError`). Nothing when no field was refused. The colon between label and
 * message is the language's (`form.colon`: French puts a no-break space before it).
 */
export function errorSummary(heading: string, refused: readonly RefusedField[], t: Translator): SafeHtml {
  if (refused.length === 0) return html``;
  return html`<div class="error" role="alert"><p><strong>${heading}</strong></p>
<ul>${refused.map((field) => html`<li><a href="#${field.anchor}">${field.label}</a>${t.t('form.colon')} ${field.message}</li>`)}</ul></div>`;
}
