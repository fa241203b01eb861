/**
 * What the partner app tells its users about a failure Gatehouse reported. An OAuth error code (RFC 6749 §4.1.2.1
 * authorization errors, §5.2 token errors; RFC 7009 §2.2.1 revocation errors; RFC 9449 §12.2 DPoP errors) becomes a
 * plain sentence in the page's language that says what the user can do: connect again, try again later, or contact
 * the app's support.
 *
 * The raw reason (`invalid_grant: refresh token was already used`, an SDK error's message) never reaches a page: it
 * goes to the server log, which holds no token value (the SDK's errors carry none, `@gatehouse/client` errors.ts), and
 * a page's collapsed "Technical details" shows the error code alone, and only a code listed here or an SDK error's
 * class name: a description or any other text Gatehouse sent is never echoed.
 */
import type { Messages } from './i18n.ts';

/**
 * What a failure means to the user:
 * `grant_ended` — the authorization (a code, a refresh token, the grant behind them) is gone: connect again;
 * `client_refused` — Gatehouse does not accept this app's registration (suspended, credentials changed): contact support;
 * `request_refused` — the app sent something Gatehouse cannot accept (its configuration): try again, then support;
 * `gatehouse_trouble` — Gatehouse's own passing failure: try again in a few minutes;
 * `unknown` — any other code: try again, then support.
 */
export type FailureKind = 'grant_ended' | 'client_refused' | 'request_refused' | 'gatehouse_trouble' | 'unknown';

/** The error codes Gatehouse (or any RFC 6749 server) answers, and what each means here. */
const KINDS: Readonly<Record<string, FailureKind>> = {
  invalid_grant: 'grant_ended',
  invalid_client: 'client_refused',
  unauthorized_client: 'client_refused',
  invalid_request: 'request_refused',
  invalid_scope: 'request_refused',
  unsupported_grant_type: 'request_refused',
  unsupported_response_type: 'request_refused',
  unsupported_token_type: 'request_refused',
  invalid_dpop_proof: 'request_refused',
  server_error: 'gatehouse_trouble',
  temporarily_unavailable: 'gatehouse_trouble',
};

/** A known OAuth error code's meaning; `unknown` for anything else (never throws). */
export function failureKind(code: string): FailureKind {
  return Object.hasOwn(KINDS, code) ? KINDS[code]! : 'unknown';
}

/**
 * The error code a page may show in its technical details: `code` itself when it is one listed above, else undefined.
 * Also reads a stored reason, which starts with its code (`invalid_grant: refresh token was already used` →
 * `invalid_grant`; the SDK's refresh.ts writes it so): the description after the colon is dropped.
 */
export function shownErrorCode(reason: string | null | undefined): string | undefined {
  const code = /^([a-z_]{1,40})(?::|$)/.exec(reason ?? '')?.[1];
  return code !== undefined && Object.hasOwn(KINDS, code) ? code : undefined;
}

/**
 * The sentence for an OAuth error code in the page's language, naming a way onward. Plain text (the pages escape it).
 * `appName` is the app whose support the user may contact.
 */
export function failureMessage(t: Messages, appName: string, code: string): string {
  switch (failureKind(code)) {
    case 'grant_ended': return t.failureGrantEnded;
    case 'client_refused': return t.failureClientRefused(appName);
    case 'request_refused': return t.failureRequestRefused(appName);
    case 'gatehouse_trouble': return t.failureGatehouseTrouble;
    case 'unknown': return t.failureUnknown(appName);
  }
}
