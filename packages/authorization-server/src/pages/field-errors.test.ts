import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGLISH, translator } from '../i18n/i18n.ts';
import { errorSummary } from './field-errors.ts';

describe('errorSummary (WCAG 2.2 SC 3.3.1: every refused field listed, each a link to it)', () => {
  const refused = [{ anchor: 'client_name', label: 'Name', message: 'Enter a name.' }, { anchor: 'scope-fieldset', label: 'Scopes', message: 'Pick <one>.' }];

  it('links each field by its anchor, escapes the words, and is nothing without a refused field', () => {
    const summary = String(errorSummary('Correct these fields', refused, ENGLISH));
    assert.match(summary, /<div class="error" role="alert"><p><strong>Correct these fields<\/strong><\/p>/);
    assert.match(summary, /<li><a href="#client_name">Name<\/a>: Enter a name\.<\/li>/);
    assert.match(summary, /<li><a href="#scope-fieldset">Scopes<\/a>: Pick &lt;one&gt;\.<\/li>/);
    assert.equal(String(errorSummary('Correct these fields', [], ENGLISH)), '');
  });

  it("writes the language's colon: French puts a no-break space before it", () => {
    assert.match(String(errorSummary('Corrigez', refused, translator('fr'))), /<a href="#client_name">Name<\/a>\u00a0: Enter a name\./);
    assert.match(String(errorSummary('Rett', refused, translator('nb'))), /<a href="#client_name">Name<\/a>: Enter a name\./);
  });
});
