/**
 * The partner app's page languages: a small message catalogue per language (locales/<lang>.ts, English the
 * source) and the choice of language: the language switch's cookie, else `Accept-Language`. Every catalogue has the type `Messages`, English's
 * keys with the same parameters: a missing, extra or differently-shaped message is a type error.
 *
 * Messages are plain text: the pages escape them like every other value. Where a message surrounds markup (a
 * link, the company's name), `withMarkup` fills the message's slots with HTML after escaping the text.
 */
import escapeHtml from 'escape-html';
import { da } from './locales/da.ts';
import { de } from './locales/de.ts';
import { en } from './locales/en.ts';
import { es } from './locales/es.ts';
import { fr } from './locales/fr.ts';
import { nb } from './locales/nb.ts';
import { sv } from './locales/sv.ts';

/** English's messages, widened: the shape every language's catalogue has. */
export type Messages = { readonly [Key in keyof typeof en]: (typeof en)[Key] };

/** The page languages, English first (the source of every message and the default). */
export const LOCALES = ['en', 'da', 'sv', 'nb', 'de', 'fr', 'es'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

export const CATALOGUES: Readonly<Record<Locale, Messages>> = { en, da, sv, nb, de, fr, es };

/** Each language by its own name, as the language switch offers it (the same on every page, as Gatehouse's switch). */
export const LANGUAGE_NAMES: Readonly<Record<Locale, string>> = {
  en: 'English', da: 'Dansk', sv: 'Svenska', nb: 'Norsk bokmål', de: 'Deutsch', fr: 'Français', es: 'Español',
};

/** The language switch of a page (pages.ts `layout`): a POST form to /language with the session's CSRF token. */
export interface LanguageSwitch {
  csrfToken: string;
  /** The page to come back to: a same-origin path without secrets (language-switch.ts `switchReturnPath`). */
  returnTo: string;
}

/** A page's language: its tag (for `<html lang>`), its messages, and the switch to another language when the page has one. */
export interface PageLanguage {
  locale: Locale;
  t: Messages;
  languageSwitch?: LanguageSwitch | undefined;
}

export function pageLanguage(locale: Locale): PageLanguage {
  return { locale, t: CATALOGUES[locale] };
}

/** Whether `value` is exactly one of the page languages' tags (a remembered choice; anything else is ignored). */
export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/**
 * The page language of a request: the language switch's remembered choice (`chosen`, its cookie) when it names a page
 * language exactly, else the best match of `Accept-Language` (`negotiateLocale`). An unknown choice is ignored.
 */
export function chosenLocale(chosen: string | undefined, acceptLanguage: string | string[] | undefined): Locale {
  return isLocale(chosen) ? chosen : negotiateLocale(acceptLanguage);
}

/** Primary language subtags mapped onto a page language: Norwegian (`no`, `nn`, `nb`) reads Bokmål. */
const PRIMARY: Readonly<Record<string, Locale>> = { en: 'en', da: 'da', sv: 'sv', nb: 'nb', no: 'nb', nn: 'nb', de: 'de', fr: 'fr', es: 'es' };

/** The page language a BCP 47 tag reads as, by its primary subtag (`de-AT` → `de`, `nb-NO` → `nb`), if any. */
export function matchLocale(tag: string): Locale | undefined {
  const primary = /^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$/.exec(tag.trim())?.[1];
  return primary === undefined ? undefined : PRIMARY[primary.toLowerCase()];
}

/**
 * RFC 9110 §12.5.4 `Accept-Language`: the page language of the highest quality (`q`, default 1; `q=0` is "not
 * acceptable"), the earlier of equal ones; English when none matches. Malformed entries are skipped.
 */
export function negotiateLocale(header: string | string[] | undefined): Locale {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return DEFAULT_LOCALE;
  let best: { locale: Locale; quality: number } | undefined;
  for (const entry of value.split(',')) {
    const [range = '', ...parameters] = entry.trim().split(';');
    let quality = 1;
    let malformed = false;
    for (const parameter of parameters) {
      const q = /^\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i.exec(parameter);
      if (q) quality = Number(q[1]);
      else malformed = true;
    }
    const locale = malformed ? undefined : matchLocale(range);
    if (locale && quality > 0 && (!best || quality > best.quality)) best = { locale, quality };
  }
  return best?.locale ?? DEFAULT_LOCALE;
}

/**
 * A message around markup: `message` is called with one marker per fragment, the text is escaped, and each marker
 * is replaced by its fragment (HTML the caller built and escaped itself).
 */
export function withMarkup<Fragments extends string[]>(message: (...slots: Fragments) => string, ...fragments: Fragments): string {
  const markers = fragments.map((_fragment, index) => `\u0001${index}\u0002`) as Fragments;
  return fragments.reduce((html, fragment, index) => html.replace(markers[index]!, () => fragment), escapeHtml(message(...markers)));
}
