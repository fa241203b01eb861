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
  return parseParameters(body);
}

/** Where parseParameters notes the names whose values did not decode. */
const UNDECODABLE = Symbol('undecodable parameters');

/**
 * Parses a query string or form body as fast-querystring does (repeated names as arrays, a prototype-less
 * object: a parameter named __proto__ is only a parameter), noting the names whose value is not valid
 * percent-encoded UTF-8 (`%ZZ`, `%C0%AF`, a truncated `%E2%82`): fast-querystring keeps such a value as its raw
 * text, which a later percent-encoding would turn into another value than the one sent (RFC 6749 §4.1.2:
 * `state` must come back exactly as received). Read the names with undecodableParameters.
 */
export function parseParameters(text: string): RawParameters {
  const parsed = parse(text) as RawParameters;
  if (!text.includes('%')) return parsed;
  const names: string[] = [];
  for (const pair of text.split('&')) {
    const separator = pair.indexOf('=');
    const name = separator === -1 ? pair : pair.slice(0, separator);
    if (!decodes(name)) names.push(name);
    else if (separator !== -1 && !decodes(pair.slice(separator + 1))) names.push(decodeURIComponent(name.replaceAll('+', ' ')));
  }
  if (names.length > 0) Object.defineProperty(parsed, UNDECODABLE, { value: names });
  return parsed;
}

/** The names parseParameters found with a value that is not valid percent-encoded UTF-8 (empty when none, or not parsed by it). */
export function undecodableParameters(parameters: RawParameters): readonly string[] {
  return (parameters as { [UNDECODABLE]?: string[] })[UNDECODABLE] ?? [];
}

function decodes(text: string): boolean {
  if (!text.includes('%')) return true;
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}
