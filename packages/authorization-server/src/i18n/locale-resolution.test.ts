import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchAcceptLanguage, matchLocale, matchUiLocales, resolveLocale } from './locale-resolution.ts';

describe('matchLocale (BCP 47 tag → page language)', () => {
  it('reads a tag by its primary language subtag, whatever its region or script, case-insensitively', () => {
    assert.equal(matchLocale('en-GB'), 'en');
    assert.equal(matchLocale('en-US'), 'en');
    assert.equal(matchLocale('da-DK'), 'da');
    assert.equal(matchLocale('DE-at'), 'de');
    assert.equal(matchLocale('fr-CA'), 'fr');
    assert.equal(matchLocale('es-419'), 'es');
    assert.equal(matchLocale('sv_SE'), 'sv');
  });

  it('reads every Norwegian as Bokmål: no, nn, nb, nb-NO, no-NO', () => {
    for (const tag of ['no', 'nn', 'nb', 'nb-NO', 'no-NO', 'nn-NO']) assert.equal(matchLocale(tag), 'nb', tag);
  });

  it('matches nothing for other languages, wildcards, empty and malformed tags', () => {
    for (const tag of ['pt-BR', 'fi', '*', '', ' ', 'english', 'e', '-da', 'da--DK', null, undefined]) assert.equal(matchLocale(tag), undefined, String(tag));
  });
});

describe('matchUiLocales (OIDC Core §3.1.2.1: space-separated, in order of preference)', () => {
  it('takes the first supported tag', () => {
    assert.equal(matchUiLocales('fi-FI sv-FI en'), 'sv');
    assert.equal(matchUiLocales('nn-NO'), 'nb');
    assert.equal(matchUiLocales('pt fi'), undefined);
    assert.equal(matchUiLocales(''), undefined);
  });
});

describe('matchAcceptLanguage (RFC 9110 §12.5.4)', () => {
  it('prefers the highest quality, then the earlier entry', () => {
    assert.equal(matchAcceptLanguage('fr;q=0.5, de;q=0.9, en;q=0.8'), 'de');
    assert.equal(matchAcceptLanguage('da, en-GB;q=0.9, en;q=0.8'), 'da');
    assert.equal(matchAcceptLanguage('es;q=0.7,fr;q=0.7'), 'es');
  });

  it('skips unsupported languages, q=0 ("not acceptable") and malformed weights', () => {
    assert.equal(matchAcceptLanguage('pt-BR, fi;q=0.9, sv;q=0.1'), 'sv');
    assert.equal(matchAcceptLanguage('de;q=0, fr;q=0.2'), 'fr');
    assert.equal(matchAcceptLanguage('de;q=high, es;q=0.5'), 'es');
    assert.equal(matchAcceptLanguage('de;q=1.5'), undefined);
    assert.equal(matchAcceptLanguage('*'), undefined);
    assert.equal(matchAcceptLanguage(''), undefined);
  });
});

describe('resolveLocale (the documented order)', () => {
  const all = { chosen: 'fr', userLocale: 'da-DK', uiLocales: 'sv', acceptLanguage: 'de' };

  it('1. the language switch\'s choice wins over everything', () => {
    assert.equal(resolveLocale(all), 'fr');
  });

  it('2. then the directory record, over ui_locales and Accept-Language', () => {
    assert.equal(resolveLocale({ ...all, chosen: undefined }), 'da');
  });

  it('3. then ui_locales, over Accept-Language', () => {
    assert.equal(resolveLocale({ ...all, chosen: undefined, userLocale: null }), 'sv');
  });

  it('4. then Accept-Language; 5. then English', () => {
    assert.equal(resolveLocale({ acceptLanguage: 'de' }), 'de');
    assert.equal(resolveLocale({}), 'en');
  });

  it('skips a source whose value matches no supported language (a record saying pt-BR does not hide ui_locales)', () => {
    assert.equal(resolveLocale({ chosen: 'xx', userLocale: 'pt-BR', uiLocales: 'es', acceptLanguage: 'de' }), 'es');
    assert.equal(resolveLocale({ userLocale: 'pt-BR', acceptLanguage: 'fi' }), 'en');
  });
});
