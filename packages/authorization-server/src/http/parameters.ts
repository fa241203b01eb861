/**
 * Request parameters from a query string or an `application/x-www-form-urlencoded` body, where a
 * repeated parameter arrives as an array.
 */
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
  if (Array.isArray(value)) throw new OAuthError('invalid_request', `parameter "${name}" is repeated`);
  return value === '' ? undefined : value;
}

/** Parses a form body keeping repeated names as arrays (Fastify's own parser is not installed). */
export function parseFormBody(body: string): RawParameters {
  const parameters: RawParameters = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = parameters[name];
    if (existing === undefined) parameters[name] = value;
    else parameters[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return parameters;
}
