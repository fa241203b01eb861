import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorPage } from './error-page.ts';

describe('errorPage (issue 13: branded, a way onward, what was refused)', () => {
  it('shows the refused value escaped, never as markup', () => {
    const page = errorPage('Gatehouse', 'Unknown redirect URI', 'This redirect URI is not registered for the app.', {
      detail: { label: 'Redirect URI', value: 'https://app.example/cb?<script>alert(1)</script>' },
    });
    assert.match(page, /<dt>Redirect URI<\/dt><dd><code>https:\/\/app\.example\/cb\?&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/code><\/dd>/);
    assert.doesNotMatch(page, /<script>/);
  });

  it('always offers a way onward: the home page by default, or the links given', () => {
    assert.match(errorPage('Gatehouse', 'Refused', 'No.'), /<a href="\/">Go to the home page<\/a>/);
    const page = errorPage('Gatehouse', 'Refused', 'No.', { links: [{ href: '/portal', label: 'Developer portal' }, { href: '/', label: 'Home' }] });
    assert.match(page, /<a href="\/portal">Developer portal<\/a> · <a href="\/">Home<\/a>/);
  });

  it('keeps the authorization wording unless a hint replaces it (no OAuth wording on portal forms)', () => {
    assert.match(errorPage('Gatehouse', 'Refused', 'No.'), /You were not sent back to the application/);
    assert.doesNotMatch(errorPage('Gatehouse', 'Refused', 'No.', { hint: 'Reload the page and try again.' }), /sent back to the application/);
  });
});
