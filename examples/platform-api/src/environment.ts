/**
 * The platform API's options from environment variables: the one reading shared by `main.ts` (the API on
 * its own) and `npm start` (scripts/start.ts, beside the authorization server), so the two cannot drift.
 *
 * | variable | default |
 * |---|---|
 * | `PLATFORM_API_PORT` | 3001 |
 * | `PLATFORM_API_HOST` | localhost |
 * | `GATEHOUSE_ISSUER` | http://localhost:3000 (under `npm start`: the authorization server's issuer) |
 * | `PLATFORM_API_AUDIENCE` | http://localhost:3001 (under `npm start`: the authorization server's `GATEHOUSE_API_AUDIENCE`) |
 * | `PLATFORM_API_INTROSPECTION_CLIENT_ID` / `_SECRET` | the dev-seed credentials (also the revocation feed's in local mode) |
 * | `GATEHOUSE_URN_NAMESPACE` | gatehouse (under `npm start`: the authorization server's) |
 * | `PLATFORM_API_VALIDATION_MODE` | `introspection`, or `local` for JWT access tokens |
 * | `PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS` | 5 (introspection mode; SPEC decision 7) |
 * | `PLATFORM_API_PUBLIC_ORIGIN` | see `defaultPublicOrigin` |
 *
 * An empty variable counts as unset.
 */
import { isLoopbackHttpUrl } from '@gatehouse/protocol';
import { PLATFORM_API_DEVELOPMENT_DEFAULTS } from './platform-api.ts';
import type { PlatformApiOptions, ValidationMode } from './platform-api.ts';

/** The authorization server the API runs beside (`npm start`): its settings replace the API's own defaults. */
export interface PlatformApiDeployment {
  /** Its issuer; used as is (it read `GATEHOUSE_ISSUER` itself, with its own default). */
  readonly issuer: string;
  /** Its URN namespace; used as is (`GATEHOUSE_URN_NAMESPACE`). */
  readonly urnNamespace: string;
  /** The API audience it puts in tokens (`GATEHOUSE_API_AUDIENCE`): the default of `PLATFORM_API_AUDIENCE`. */
  readonly apiAudience: string;
}

/** `PlatformApiOptions` plus where to listen; `logger` is left to the caller. */
export type PlatformApiEnvironmentOptions = PlatformApiOptions & { readonly port: number; readonly host: string };

/**
 * @param env the environment, e.g. `process.env`.
 * @param deployment under `npm start`, the authorization server's configuration.
 * @throws {TypeError} naming the variable, for a port that is not an integer 0–65535, a negative or non-numeric
 *   cache TTL, or a validation mode other than `introspection` and `local`.
 */
export function platformApiOptionsFromEnvironment(env: NodeJS.ProcessEnv, deployment?: PlatformApiDeployment): PlatformApiEnvironmentOptions {
  const value = (name: string): string | undefined => env[name] || undefined;
  const port = numberFrom(env, 'PLATFORM_API_PORT', PLATFORM_API_DEVELOPMENT_DEFAULTS.port);
  if (!Number.isInteger(port) || port > 65_535) throw new TypeError('PLATFORM_API_PORT must be an integer from 0 to 65535');
  const audience = value('PLATFORM_API_AUDIENCE') ?? deployment?.apiAudience ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.audience;
  const publicOrigin = value('PLATFORM_API_PUBLIC_ORIGIN') ?? defaultPublicOrigin(audience, port);
  const urnNamespace = deployment?.urnNamespace ?? value('GATEHOUSE_URN_NAMESPACE');
  return {
    port,
    host: value('PLATFORM_API_HOST') ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.host,
    issuer: deployment?.issuer ?? value('GATEHOUSE_ISSUER') ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.issuer,
    audience,
    introspectionClientId: value('PLATFORM_API_INTROSPECTION_CLIENT_ID') ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientId,
    introspectionClientSecret: value('PLATFORM_API_INTROSPECTION_CLIENT_SECRET') ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientSecret,
    ...(urnNamespace === undefined ? {} : { urnNamespace }),
    validationMode: validationModeFrom(env),
    introspectionCacheTtlSeconds: numberFrom(env, 'PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS', 5),
    ...(publicOrigin === undefined ? {} : { publicOrigin }),
  };
}

/**
 * RFC 9449 §4.3: a DPoP proof's `htu` names the URL the client called, which the API checks against its
 * public origin. The verifier's default is the audience's origin, right when clients call the API where its
 * identifier says (or through a proxy there). A loopback audience (development) names no proxy: clients call
 * the port the API listens on, so the default follows that port (`PLATFORM_API_PORT=3132` with the default
 * audience `http://localhost:3001` gives `http://localhost:3132`). Port 0 (any free port) is unknown until
 * listening: then the verifier's default applies.
 * @returns the origin, or undefined for the verifier's default.
 */
export function defaultPublicOrigin(audience: string, port: number): string | undefined {
  if (port === 0 || !URL.canParse(audience)) return undefined;
  const url = new URL(audience);
  if (!isLoopbackHttpUrl(url)) return undefined;
  url.port = String(port);
  return url.origin;
}

function validationModeFrom(env: NodeJS.ProcessEnv): ValidationMode {
  const raw = env.PLATFORM_API_VALIDATION_MODE;
  if (raw === undefined || raw === '' || raw === 'introspection') return 'introspection';
  if (raw === 'local') return 'local';
  throw new TypeError('PLATFORM_API_VALIDATION_MODE must be "introspection" or "local"');
}

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}
