/**
 * Environment presets (SPEC §2 deployment profile; seeds, "Client Configuration": authorization server
 * URL per environment, "always test your integration fully in staging before switching to production").
 *
 * - `development`: the local Gatehouse of `npm start` — issuer `http://localhost:3000`, API
 *   `http://localhost:3001`; plain HTTP only to loopback hosts.
 * - `staging`: HTTPS issuer and API; `http://localhost` redirect URIs allowed (SPEC §2).
 * - `production`: HTTPS everywhere; redirect URIs must be HTTPS (seeds: "Must use HTTPS in production").
 *
 * One deployment is one brand with its own host names, so staging and production carry no built-in
 * URLs: pass `issuer` (and `apiUrl`) as the deployment publishes them; the preset then enforces its rules.
 */
import { ConfigurationError } from './errors.ts';
import { isLoopbackHttpUrl } from '@gatehouse/protocol';

export type Environment = 'development' | 'staging' | 'production';

export interface EnvironmentPreset {
  /** Default issuer, when the environment has a fixed one. */
  issuer: string | undefined;
  /** Default API base URL. */
  apiUrl: string | undefined;
  /** Whether an `http:` loopback issuer (and API) is acceptable. */
  loopbackHttpIssuer: boolean;
  /** Whether an `http:` loopback redirect URI is acceptable. */
  loopbackHttpRedirectUri: boolean;
}

export const ENVIRONMENT_PRESETS: Readonly<Record<Environment, EnvironmentPreset>> = {
  development: { issuer: 'http://localhost:3000', apiUrl: 'http://localhost:3001', loopbackHttpIssuer: true, loopbackHttpRedirectUri: true },
  staging: { issuer: undefined, apiUrl: undefined, loopbackHttpIssuer: false, loopbackHttpRedirectUri: true },
  production: { issuer: undefined, apiUrl: undefined, loopbackHttpIssuer: false, loopbackHttpRedirectUri: false },
};

export interface ResolvedEndpoints {
  issuer: URL;
  apiUrl: URL | undefined;
  /** True only for an `http:` loopback issuer: oauth4webapi's `allowInsecureRequests` follows it. */
  allowLoopbackHttp: boolean;
}

/**
 * Applies a preset to the configured URLs.
 * @throws ConfigurationError when the issuer is missing, not an absolute URL, HTTP to a non-loopback host,
 *   HTTP outside development, or when the redirect URI or API URL breaks the environment's rules.
 */
export function resolveEndpoints(input: { issuer?: string | undefined; environment?: Environment | undefined; apiUrl?: string | undefined; redirectUri: string }): ResolvedEndpoints {
  if (input.environment !== undefined && !Object.hasOwn(ENVIRONMENT_PRESETS, input.environment)) {
    throw new ConfigurationError(`environment must be development, staging or production (got "${input.environment}")`);
  }
  const preset = input.environment === undefined ? undefined : ENVIRONMENT_PRESETS[input.environment];
  const issuerText = input.issuer ?? preset?.issuer;
  if (issuerText === undefined) {
    throw new ConfigurationError(`no issuer: ${input.environment ?? 'this configuration'} has no default; pass the authorization server's https issuer URL`);
  }
  const issuer = parseUrl(issuerText, 'issuer');
  if (issuer.search || issuer.hash) throw new ConfigurationError('issuer must not have a query or fragment (RFC 8414 §2)');
  const loopbackAllowed = preset ? preset.loopbackHttpIssuer : true;
  let allowLoopbackHttp = false;
  if (issuer.protocol === 'http:') {
    if (!isLoopbackHttpUrl(issuer)) throw new ConfigurationError(`issuer ${issuer.origin} must be https (plain http only for localhost, 127.0.0.1 or [::1])`);
    if (!loopbackAllowed) throw new ConfigurationError(`issuer must be https in ${input.environment}`);
    allowLoopbackHttp = true;
  } else if (issuer.protocol !== 'https:') {
    throw new ConfigurationError(`issuer must be an https URL (got ${issuer.protocol})`);
  }

  const redirectUri = parseUrl(input.redirectUri, 'redirectUri');
  if (redirectUri.hash) throw new ConfigurationError('redirectUri must not have a fragment (RFC 6749 §3.1.2)');
  if (redirectUri.protocol === 'http:') {
    if (!isLoopbackHttpUrl(redirectUri)) throw new ConfigurationError('redirectUri must be https (plain http only for localhost, 127.0.0.1 or [::1])');
    if (preset && !preset.loopbackHttpRedirectUri) throw new ConfigurationError(`redirectUri must be https in ${input.environment}`);
  } else if (redirectUri.protocol !== 'https:') {
    throw new ConfigurationError('redirectUri must be an https URL (or loopback http outside production)');
  }

  // Issue 15 part 6: tokens go only to an API origin that was configured. A preset's API URL belongs to its
  // issuer: with another issuer (a local Gatehouse on another port, say) there is no default API.
  const apiText = input.apiUrl ?? (input.issuer === undefined || input.issuer === preset?.issuer ? preset?.apiUrl : undefined);
  const apiUrl = apiText === undefined ? undefined : parseUrl(apiText, 'apiUrl');
  if (apiUrl && apiUrl.protocol !== 'https:' && !(allowLoopbackHttp && isLoopbackHttpUrl(apiUrl))) {
    throw new ConfigurationError(`apiUrl ${apiUrl.origin} must be https${allowLoopbackHttp ? ' or loopback http' : ''}`);
  }
  return { issuer, apiUrl, allowLoopbackHttp };
}

function parseUrl(text: string, name: string): URL {
  if (!URL.canParse(text)) throw new ConfigurationError(`${name} must be an absolute URL (got "${text}")`);
  return new URL(text);
}
