/**
 * Request parameters from a query string or an `application/x-www-form-urlencoded` body, where a
 * repeated parameter arrives as an array.
 */
import { parse } from 'fast-querystring';
import { OAuthError } from '../errors.ts';

export type RawParameters = Record<string, string | string[] | undefined>;

/**
 * The single value of a parameter, or undefined when absent or empty (RFC 6749 §3.1: "Parameters sent
 * without a value MUST be treated as if they were omitted").
 * @throws OAuthError `invalid_request` when it is repeated (RFC 6749 §3.1, §3.2: "Request and response
 *   parameters MUST NOT be included more than once").
 */
export function singleParameter(parameters: RawParameters | undefined, name: string): string | undefined {
  const value = parameters?.[name];
  if (Array.isArray(value)) throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
  return value === '' ? undefined : value;
}

/** Most parameters a form body may carry (RFC 6749 requests carry a handful; the portal forms about 20). */
export const MAX_FORM_PARAMETERS = 100;

/**
 * Parses an `application/x-www-form-urlencoded` body keeping repeated names as arrays, in time linear
 * in its length (fast-querystring, the parser Fastify itself uses for query strings; issue 11 item 1:
 * the previous parser copied the array for every repeat, so `a&a&a…` took quadratic time).
 * @param maxParameters at most this many `&`-separated parameters; counted before anything is parsed.
 * @throws OAuthError `invalid_request` (400) when the body has more parameters than `maxParameters`.
 */
export function parseFormBody(body: string, maxParameters = MAX_FORM_PARAMETERS): RawParameters {
  let separators = 0;
  for (let index = body.indexOf('&'); index !== -1; index = body.indexOf('&', index + 1)) {
    if (++separators >= maxParameters) throw new OAuthError('invalid_request', `the form has more than ${maxParameters} parameters`);
  }
  // A prototype-less object: a parameter named __proto__ or constructor is only a parameter.
  return parse(body) as RawParameters;
}
