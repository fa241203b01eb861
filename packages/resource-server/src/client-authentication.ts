/**
 * RFC 6749 Appendix B `application/x-www-form-urlencoded` encoding of a client credential, as
 * oauth4webapi does it for introspection: `encodeURIComponent`, then the characters it leaves alone
 * but the form encoding escapes (`-_.!~*'()`) are percent-encoded too and `%20` becomes `+`.
 */
function formUrlEncode(value: string): string {
  return encodeURIComponent(value).replace(/(?:[-_.!~*'()]|%20)/g, (match) =>
    match === '%20' ? '+' : `%${match.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The `Authorization` header value of `client_secret_basic` (RFC 6749 §2.3.1): the client ID and
 * secret are form-urlencoded, joined with `:`, and base64-encoded (SPEC decision 1). Used for the
 * revocation feed, where oauth4webapi has no request function; introspection goes through oauth4webapi.
 */
export function clientSecretBasicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formUrlEncode(clientId)}:${formUrlEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}
