/**
 * Page and e-mail languages (issue 13 "Languages"): English (the source), Danish, Swedish, Norwegian
 * Bokmål, German, French and Spanish.
 *
 * HOW TO USE IT (pages, endpoints, e-mails):
 * - In an endpoint: `const t = requestTranslator(request)` (request-language.ts) gives the request's
 *   language, resolved as locale-resolution.ts documents (switch cookie, directory record, `ui_locales`,
 *   `Accept-Language`, English). Pass `t` to the page function in its model (`{ ..., t }`); the page
 *   passes it on to `layout(...)`, which sets `<html lang>` and draws the language switch.
 * - Without a request (an e-mail to a known user, a test): `translator('da')`.
 * - Text: `t.t('consent.allow')`; with values: `t.t('consent.heading', { client: name, brand })`. The
 *   result is plain text: interpolate it into `html\`...\`` like any other string (it is escaped).
 * - Text with markup from the catalogue (`<strong>`, a link): `t.html('consent.willBeAbleTo', { client })`
 *   returns SafeHtml; the VALUES are HTML-escaped, the catalogue's own markup is kept (it is ours).
 * - Plurals, selects, numbers: ICU MessageFormat in the message, e.g.
 *   `{count, plural, one {# app} other {# apps}}` (the plural rules of the language, Intl.PluralRules).
 * - Dates: `t.dateTime(seconds)` (Intl.DateTimeFormat in the language, UTC, to the minute).
 * - Scope descriptions: `t.scope('users:read')` (English in @gatehouse/protocol stays the source).
 * - A NEW MESSAGE: add the key to locales/en.ts, then to each other locales/<lang>.ts (the compiler
 *   refuses a catalogue with a missing or extra key; i18n.test.ts checks the placeholders match).
 * - An apostrophe before `{` must be doubled in ICU (`''`); French uses the typographic ’ throughout.
 * - OAuth wire errors (JSON `error_description`, redirect `error_description`) stay English: they are
 *   for developers, not for pages.
 *
 * Why i18next with i18next-icu: the most widely maintained JavaScript i18n library, synchronous once
 * initialised with in-memory resources (no loader, no I/O per request), and ICU MessageFormat
 * (intl-messageformat, the FormatJS implementation) gives real CLDR plural rules and Intl number/date
 * formatting in one well-known syntax that translators already know; catalogues are TypeScript objects, so
 * `keyof typeof en` types every key at compile time.
 */
import i18next, { type i18n } from 'i18next';
import ICU from 'i18next-icu';
import IntlMessageFormat from 'intl-messageformat';
import escapeHtml from 'escape-html';
import { describeScope } from '@gatehouse/protocol';
import { SafeHtml } from '../pages/html.ts';
import { DEFAULT_LOCALE, LOCALES, type Locale } from './locale-resolution.ts';
import { en, type MessageKey } from './locales/en.ts';
import { da } from './locales/da.ts';
import { sv } from './locales/sv.ts';
import { nb } from './locales/nb.ts';
import { de } from './locales/de.ts';
import { fr } from './locales/fr.ts';
import { es } from './locales/es.ts';

export { LOCALES, LANGUAGE_NAMES, DEFAULT_LOCALE, matchLocale, type Locale } from './locale-resolution.ts';
export type { MessageKey } from './locales/en.ts';

/** Every catalogue, by language. */
export const CATALOGUES: Readonly<Record<Locale, Readonly<Record<MessageKey, string>>>> = { en, da, sv, nb, de, fr, es };

/** Values a message may interpolate: text (escaped by the page) or a number (formatted for the language). */
export type MessageValues = Record<string, string | number>;

export interface Translator {
  readonly locale: Locale;
  /** Where the language switch returns to after setting the cookie: a same-origin path; `/` when unknown. */
  readonly path: string;
  /** The message as plain text. Unknown keys cannot compile; a failure to format yields the English message. */
  t(key: MessageKey, values?: MessageValues): string;
  /** The message with its catalogue markup kept and every value HTML-escaped. */
  html(key: MessageKey, values?: MessageValues): SafeHtml;
  /** Seconds since the epoch as a date and time to the minute, UTC, written the language's way. */
  dateTime(seconds: number): string;
  /** A scope's description in the language; the protocol's English wording (or the name) when there is none. */
  scope(name: string): string;
}

let instance: i18n | undefined;

/** One i18next instance for the process, initialised synchronously from the in-memory catalogues. */
function i18nextInstance(): i18n {
  if (instance) return instance;
  const created = i18next.createInstance();
  void created.use(ICU).init({
    initAsync: false,
    resources: Object.fromEntries(LOCALES.map((locale) => [locale, { translation: CATALOGUES[locale] }])),
    lng: DEFAULT_LOCALE,
    fallbackLng: DEFAULT_LOCALE,
    supportedLngs: [...LOCALES],
    keySeparator: false,
    nsSeparator: false,
    returnNull: false,
    returnEmptyString: false,
    interpolation: { escapeValue: false },
  });
  instance = created;
  return created;
}

const dateTimeFormats = new Map<Locale, Intl.DateTimeFormat>();

/**
 * English keeps the ISO 8601 form it always had ("2027-01-15 08:00 UTC": unambiguous for readers of
 * every English); the other languages get Intl's medium date and short time, in UTC, with the zone named.
 */
function formatDateTime(locale: Locale, seconds: number): string {
  const date = new Date(seconds * 1000);
  if (locale === 'en') return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  let format = dateTimeFormats.get(locale);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
    dateTimeFormats.set(locale, format);
  }
  return `${format.format(date)} UTC`;
}

/**
 * One language's compiled messages, built once per process (the catalogues never change while it runs).
 * Each message is compiled on first use into the same `IntlMessageFormat` i18next-icu would build
 * (locale, no custom formats, `ignoreTag`), and a message formatted without values is kept as text: a page
 * then costs a map lookup per message instead of i18next's option merging and key resolution (bench/README.md,
 * "flow with session"). Whatever the compiled form cannot format (a missing value) goes through i18next as
 * before, so its fallbacks stay exactly what they were.
 */
interface CompiledLocale {
  readonly formats: Map<MessageKey, IntlMessageFormat>;
  readonly texts: Map<MessageKey, string>;
  readonly viaI18next: (key: MessageKey, values: MessageValues) => string;
}

const compiledLocales = new Map<Locale, CompiledLocale>();

function compiledLocale(locale: Locale): CompiledLocale {
  let compiled = compiledLocales.get(locale);
  if (!compiled) {
    const fixed = i18nextInstance().getFixedT(locale);
    compiled = { formats: new Map(), texts: new Map(), viaI18next: (key, values) => String(fixed(key, values)) };
    compiledLocales.set(locale, compiled);
  }
  return compiled;
}

/** `key` in `locale`, formatted with `values`: what i18next with i18next-icu returns, without its per-call overhead. */
function formatMessage(compiled: CompiledLocale, locale: Locale, key: MessageKey, values: MessageValues | undefined): string {
  const noValues = values === undefined || Object.keys(values).length === 0;
  if (noValues) {
    const text = compiled.texts.get(key);
    if (text !== undefined) return text;
  }
  let format = compiled.formats.get(key);
  if (!format) {
    const message = CATALOGUES[locale][key];
    // An empty message (the catalogue test forbids them) falls back to English in i18next: leave it to i18next.
    if (typeof message !== 'string' || message === '') return compiled.viaI18next(key, values ?? {});
    try {
      format = new IntlMessageFormat(message, locale, undefined, { ignoreTag: true });
    } catch {
      return compiled.viaI18next(key, values ?? {});
    }
    compiled.formats.set(key, format);
  }
  let text: string;
  try {
    text = String(format.format(values ?? {}));
  } catch {
    return compiled.viaI18next(key, values ?? {});
  }
  if (noValues) compiled.texts.set(key, text);
  return text;
}

/** The translator of `locale`. @param path where the language switch returns to (default `/`). */
export function translator(locale: Locale, path = '/'): Translator {
  const compiled = compiledLocale(locale);
  const t = (key: MessageKey, values?: MessageValues) => formatMessage(compiled, locale, key, values);
  return {
    locale, path, t,
    html(key, values) {
      const escaped: MessageValues = {};
      for (const [name, value] of Object.entries(values ?? {})) escaped[name] = typeof value === 'string' ? escapeHtml(value) : value;
      return new SafeHtml(t(key, escaped));
    },
    dateTime: (seconds) => formatDateTime(locale, seconds),
    scope(name) {
      const key = `scope.${name}` as MessageKey;
      return key in en ? t(key) : describeScope(name);
    },
  };
}

/** English, for pages rendered without a request's language (and the default of every page function). */
export const ENGLISH: Translator = translator(DEFAULT_LOCALE);
