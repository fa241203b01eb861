/**
 * Which of the page languages a request gets (issue 13 "Languages"). Pure functions; the Fastify glue that
 * feeds them is request-language.ts.
 *
 * The order (a SPEC-level decision of issue 13, documented in the README "Languages"):
 * 1. the explicit choice made with the language switch on this browser (the `gatehouse_locale` cookie):
 *    the most recent and most explicit statement, so the switch works for everyone;
 * 2. the signed-in user's directory record (`users.locale`);
 * 3. `ui_locales` on the authorization request (OIDC Core §3.1.2.1: space-separated BCP 47 tags in order
 *    of preference; kept on the server-side interaction record with the rest of the request);
 * 4. `Accept-Language` (RFC 9110 §12.5.4, quality values);
 * 5. English.
 * At each step the first tag that maps to a supported language wins; tags that map to none are skipped.
 */

/** The page languages, English first (the source of every message). */
export const LOCALES = ['en', 'da', 'sv', 'nb', 'de', 'fr', 'es'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** Each language by its own name, for the language switch. */
export const LANGUAGE_NAMES: Readonly<Record<Locale, string>> = {
  en: 'English', da: 'Dansk', sv: 'Svenska', nb: 'Norsk bokmål', de: 'Deutsch', fr: 'Français', es: 'Español',
};

/** BCP 47 language subtags mapped onto a supported language: Norwegian (`no`, `nn`, `nb`) reads Bokmål. */
const PRIMARY: Readonly<Record<string, Locale>> = {
  en: 'en', da: 'da', sv: 'sv', nb: 'nb', no: 'nb', nn: 'nb', de: 'de', fr: 'fr', es: 'es',
};

/**
 * The supported language a BCP 47 tag (RFC 5646) reads as, by its primary language subtag, whatever its
 * region or script: `en-GB` → `en`, `nb-NO`/`no`/`nn` → `nb`, `de-AT` → `de`, `pt-BR` → undefined.
 * Case-insensitive; `_` is accepted for `-` (as in `da_DK`, common in directory exports).
 */
export function matchLocale(tag: string | null | undefined): Locale | undefined {
  if (!tag) return undefined;
  const primary = /^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$/.exec(tag.trim())?.[1];
  return primary === undefined ? undefined : PRIMARY[primary.toLowerCase()];
}

/** OIDC Core §3.1.2.1 `ui_locales`: the first tag of the space-separated list that maps to a supported language. */
export function matchUiLocales(uiLocales: string | null | undefined): Locale | undefined {
  if (!uiLocales) return undefined;
  for (const tag of uiLocales.split(' ')) {
    const locale = matchLocale(tag);
    if (locale) return locale;
  }
  return undefined;
}

/**
 * RFC 9110 §12.5.4 `Accept-Language`: the supported language of the highest quality (`q`, default 1; `q=0`
 * means "not acceptable"), the earlier of equal ones. Malformed entries are ignored; `*` matches nothing
 * in particular (English follows as the last resort anyway).
 */
export function matchAcceptLanguage(header: string | null | undefined): Locale | undefined {
  if (!header) return undefined;
  const ranges: { locale: Locale; quality: number; index: number }[] = [];
  header.split(',').forEach((entry, index) => {
    const [range, ...parameters] = entry.trim().split(';');
    let quality = 1;
    for (const parameter of parameters) {
      const q = /^\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i.exec(parameter);
      if (!q) return; // a malformed weight: the entry is ignored
      quality = Number(q[1]);
    }
    const locale = matchLocale(range);
    if (locale && quality > 0) ranges.push({ locale, quality, index });
  });
  ranges.sort((a, b) => b.quality - a.quality || a.index - b.index);
  return ranges[0]?.locale;
}

/** What is known about a request, each possibly absent. */
export interface LocaleSources {
  /** The language switch's cookie value. */
  chosen?: string | null | undefined;
  /** The signed-in user's directory record `locale`. */
  userLocale?: string | null | undefined;
  /** The authorization request's `ui_locales`. */
  uiLocales?: string | null | undefined;
  /** The `Accept-Language` header. */
  acceptLanguage?: string | null | undefined;
}

/** The language of a page, in the order documented above. */
export function resolveLocale(sources: LocaleSources): Locale {
  return matchLocale(sources.chosen)
    ?? matchLocale(sources.userLocale)
    ?? matchUiLocales(sources.uiLocales)
    ?? matchAcceptLanguage(sources.acceptLanguage)
    ?? DEFAULT_LOCALE;
}
