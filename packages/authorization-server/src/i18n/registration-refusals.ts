/**
 * Issue 13: the reasons client registration refuses a field (clients/registration.ts,
 * clients/client-management.ts, clients/redirect-uri.ts, clients/host-name.ts, webhooks/webhook-secret.ts),
 * in the page's language. Those modules word their refusals in English for the admin API, the CLI and
 * RFC 7591 `error_description` (wire text stays English); the portal's pages show them through this table.
 * Each entry recognises one wording and passes its values (the refused URI, a size, a limit) on, so the
 * refused value is still named. A reason not in the table is shown as it is (English), never dropped;
 * English pages show the reason exactly as the module wrote it.
 */
import type { MessageKey, MessageValues, Translator } from './i18n.ts';

/** Wordings by pattern; named groups are the message's values. A leading `(?<uri>…) ` names the refused URI or address. */
const REFUSALS: [RegExp, MessageKey][] = [
  [/^must be 1-100 characters$/, 'refusal.nameLength'],
  [/^must not use (?<brand>.+) branding$/, 'refusal.branding'],
  [/^(?:url )?must not contain control characters$/, 'refusal.controlCharacters'],
  [/^client type must be confidential or public$/, 'refusal.clientType'],
  [/^at least one redirect URI is required$/, 'refusal.redirectRequired'],
  [/^at least one scope is required$/, 'refusal.scopeRequired'],
  [/^not in the scope catalogue: (?<scopes>.+)$/, 'refusal.unknownScope'],
  [/^must be company or organization$/, 'refusal.subjectType'],
  [/^at most (?<count>\d+) addresses$/, 'refusal.tooManyContacts'],
  [/^(?<uri>.+) is not an e-mail address$/, 'refusal.notEmail'],
  [/^(?:url |(?<uri>.+) )?must not contain a fragment(?: \(RFC 6749 §3\.1\.2\))?$/, 'refusal.fragment'],
  [/^(?<uri>.+) must not contain a wildcard \(exact match only\)$/, 'refusal.wildcard'],
  [/^(?:url |(?<uri>.+) )?must not contain (?:user information|credentials)$/, 'refusal.userInfo'],
  [/^(?<uri>.+) must not contain white space$/, 'refusal.whiteSpace'],
  [/^(?<uri>.+) must contain only URI characters \(RFC 3986 section 2\): percent-encode backslashes, quotation marks, angle brackets, curly brackets and the characters \^ ` \|$/, 'refusal.notUriCharacters'],
  [/^(?<uri>[\s\S]+) must be written in ASCII: percent-encode other characters \(RFC 3986 section 2\.1\)$/, 'refusal.notAscii'],
  [/^(?:url |(?<uri>.+) )?must be an absolute (?:URI|URL)(?: \(RFC 6749 §3\.1\.2\))?$/, 'refusal.absolute'],
  [/^(?<uri>.+) must be at most (?<count>\d+) characters$/, 'refusal.uriTooLong'],
  [/^url must be a string of at most (?<count>\d+) characters(?<uri>)$/, 'refusal.uriTooLong'],
  [/^(?<uri>.+) must use https in production(?: \(no localhost redirect URIs\))?$/, 'refusal.httpsInProduction'],
  // A webhook URL's two refusals outside development (webhooks/webhook-secret.ts), before the general https wording.
  [/^url must be a public address \(no localhost, private, link-local or metadata addresses\)$/, 'refusal.webhookPublic'],
  [/^url must use https \(http only for localhost, 127\.0\.0\.1 or \[::1\] on a development server\)$/, 'refusal.webhookHttpsDevelopment'],
  [/^(?:url |(?<uri>.+) )?must use https \(http (?:is allowed )?only for localhost.*\)$/, 'refusal.https'],
  [/^(?<uri>.+) must name the loopback host as localhost, 127\.0\.0\.1 or \[::1\]$/, 'refusal.loopbackSpelling'],
  [/^(?<uri>.+) must not use port 0$/, 'refusal.portZero'],
  [/^(?<uri>.+) must be publicly accessible in production.*$/, 'refusal.public'],
  [/^(?<uri>.+) scheme "(?<scheme>[^"]*)" is not allowed.*$/, 'refusal.scheme'],
  [/^(?<uri>.+) private-use URI schemes are allowed only for public clients.*$/, 'refusal.privateUseScheme'],
  [/^(?<uri>.+) must be written as scheme:\/\/host.*$/, 'refusal.schemeAndHost'],
  [/^(?<uri>.+) has a host label that mixes scripts \((?<label>[^,]+),.*$/, 'refusal.mixedScripts'],
  [/^is empty$/, 'refusal.logoEmpty'],
  [/^choose an image file$/, 'refusal.logoChoose'],
  [/^must be at most (?<bytes>\d+) bytes \(1 MiB\)$/, 'refusal.logoTooLarge'],
  [/^must be a PNG, JPEG or WebP image.*$/, 'refusal.logoType'],
  [/^has no readable dimensions$/, 'refusal.logoDimensions'],
  [/^must be square \(1:1\), got (?<width>\d+)×(?<height>\d+)$/, 'refusal.logoSquare'],
  [/^must be at least (?<side>\d+)×\d+ pixels, got (?<width>\d+)×(?<height>\d+)$/, 'refusal.logoSmall'],
  [/^must be a whole number of seconds from 0 to (?<count>\d+)$/, 'refusal.overlap'],
  [/^a public client cannot have a PKCE exception$/, 'refusal.pkceException'],
];

/**
 * A refusal's reason (without its field name) in `t`'s language; unknown wordings unchanged.
 * @param reason e.g. `http://fjord.example/cb must use https (http is allowed only for localhost, 127.0.0.1 or [::1])`.
 */
export function refusalInWords(t: Translator | undefined, reason: string): string {
  // English keeps the modules' own wording (the admin API's and the CLI's, word for word).
  if (!t || t.locale === 'en') return reason;
  for (const [pattern, key] of REFUSALS) {
    const match = pattern.exec(reason);
    if (!match) continue;
    const values: MessageValues = {};
    for (const [name, value] of Object.entries(match.groups ?? {})) values[name] = value ?? '';
    // A refusal that names no URI (a webhook URL is the field itself) reads without one.
    if ('uri' in values && values.uri === '') return t.t(`${key}NoUri` as MessageKey, values);
    return t.t(key, { uri: '', ...values });
  }
  return reason;
}
