/**
 * Where `gatehouse-connect` gets its settings, first match wins: command-line flags, environment
 * variables, the profile saved by the last `login` of that connection, the environment preset.
 *
 * The API URL comes from a flag, `GATEHOUSE_API_URL` or the profile; the development preset's
 * (`http://localhost:3001`) only together with the preset's issuer. Without one, `call` refuses to run
 * rather than send the access token to an origin the user never named.
 *
 * The client secret is never a flag (flags end up in shell history and `ps`): it comes from
 * `GATEHOUSE_CLIENT_SECRET` or a file named by `--client-secret-file`, and is never saved.
 *
 * The store directory (`--store-dir`, `GATEHOUSE_CONNECT_DIR`, default `~/.config/gatehouse-connect`)
 * holds `connections.sqlite` (tokens, AES-256-GCM encrypted), `profiles.json` (non-secret settings),
 * `encryption-keys` (the keyring, unless `GATEHOUSE_CONNECT_ENCRYPTION_KEYS` is set) and
 * `gatehouse-connect.log` (refresh attempts and outcomes, fingerprints only), all mode 0600.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ENVIRONMENT_PRESETS, type Environment } from '../environments.ts';
import { formatEncryptionKeys, generateEncryptionKey, parseEncryptionKeys, type EncryptionKey } from '../encryption.ts';
import { ConfigurationError } from '../errors.ts';

/** Non-secret settings saved per connection name by `login`. */
export interface Profile {
  environment?: Environment | undefined;
  issuer: string;
  clientId: string;
  clientType: 'confidential' | 'public';
  redirectUri: string;
  scope: string;
  apiUrl?: string | undefined;
  /** `false` when `login --no-dpop` made this a Bearer connection (RFC 9449): later runs keep it so. */
  dpop?: false | undefined;
}

export interface Flags {
  environment?: string | undefined;
  issuer?: string | undefined;
  'client-id'?: string | undefined;
  'client-secret-file'?: string | undefined;
  'redirect-uri'?: string | undefined;
  scope?: string | undefined;
  'api-url'?: string | undefined;
  'store-dir'?: string | undefined;
}

export interface Settings extends Profile {
  clientSecret: string | undefined;
  /** True when no flag, variable or profile named the redirect URI (`DEFAULT_REDIRECT_URI` is used). */
  redirectUriIsDefault: boolean;
}

export const DEFAULT_REDIRECT_URI = 'http://localhost:8080/callback';

export function storeDirectory(flags: Flags, environment: NodeJS.ProcessEnv): string {
  const directory = flags['store-dir'] ?? environment.GATEHOUSE_CONNECT_DIR
    ?? join(environment.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'gatehouse-connect');
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  return directory;
}

/** The keyring: `GATEHOUSE_CONNECT_ENCRYPTION_KEYS`, else the key file, created with a new key on first use. */
export function encryptionKeys(directory: string, environment: NodeJS.ProcessEnv): EncryptionKey[] {
  if (environment.GATEHOUSE_CONNECT_ENCRYPTION_KEYS) return parseEncryptionKeys(environment.GATEHOUSE_CONNECT_ENCRYPTION_KEYS);
  const file = join(directory, 'encryption-keys');
  if (!existsSync(file)) {
    writeFileSync(file, `${formatEncryptionKeys([generateEncryptionKey(new Date().toISOString().slice(0, 10))])}\n`, { mode: 0o600, flag: 'wx' });
  }
  return parseEncryptionKeys(readFileSync(file, 'utf8'));
}

export function readProfiles(directory: string): Record<string, Profile> {
  const file = join(directory, 'profiles.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Profile>) : {};
}

export function writeProfile(directory: string, name: string, profile: Profile | undefined): void {
  const profiles = readProfiles(directory);
  if (profile) profiles[name] = profile;
  else delete profiles[name];
  const file = join(directory, 'profiles.json');
  writeFileSync(file, `${JSON.stringify(profiles, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** @throws ConfigurationError naming the missing setting and where to give it. */
export function resolveSettings(flags: Flags, environment: NodeJS.ProcessEnv, profile: Profile | undefined): Settings {
  // An empty variable counts as unset.
  const configuredIssuer = flags.issuer ?? (environment.GATEHOUSE_ISSUER || undefined) ?? profile?.issuer;
  // The development preset is the default only when no issuer was given anywhere (a saved profile included).
  const environmentName = (flags.environment ?? environment.GATEHOUSE_ENV ?? profile?.environment ?? (configuredIssuer ? undefined : 'development')) as Environment | undefined;
  if (environmentName !== undefined && !(environmentName in ENVIRONMENT_PRESETS)) {
    throw new ConfigurationError(`--environment must be development, staging or production (got "${environmentName}")`);
  }
  const preset = environmentName === undefined ? undefined : ENVIRONMENT_PRESETS[environmentName];
  const issuer = configuredIssuer ?? preset?.issuer;
  if (!issuer) throw new ConfigurationError(`no issuer: pass --issuer https://… or set GATEHOUSE_ISSUER (${environmentName} has no default)`);
  const clientId = flags['client-id'] ?? environment.GATEHOUSE_CLIENT_ID ?? profile?.clientId;
  if (!clientId) throw new ConfigurationError('no client ID: pass --client-id or set GATEHOUSE_CLIENT_ID (it was printed by `gatehouse clients create`)');
  const scope = flags.scope ?? environment.GATEHOUSE_SCOPE ?? profile?.scope;
  if (!scope) throw new ConfigurationError('no scope: pass --scope "users:read vendors:read" (scopes registered for the client) or set GATEHOUSE_SCOPE');
  const secretFile = flags['client-secret-file'];
  const clientSecret = secretFile ? readFileSync(secretFile, 'utf8').trim() : environment.GATEHOUSE_CLIENT_SECRET || undefined;
  if (profile?.clientType === 'confidential' && clientSecret === undefined && (profile.clientId === clientId)) {
    throw new ConfigurationError('this connection was made by a confidential client: set GATEHOUSE_CLIENT_SECRET (or --client-secret-file)');
  }
  const redirectUri = flags['redirect-uri'] ?? (environment.GATEHOUSE_REDIRECT_URI || undefined) ?? profile?.redirectUri;
  return {
    environment: environmentName,
    issuer,
    clientId,
    clientType: clientSecret === undefined ? 'public' : 'confidential',
    clientSecret,
    redirectUri: redirectUri ?? DEFAULT_REDIRECT_URI,
    redirectUriIsDefault: redirectUri === undefined,
    scope,
    // Issue 15 part 6: the access token goes only to an API the user configured. The preset's API URL comes
    // with the preset's issuer, never with another one (`--issuer X` alone has no API: `call` then says so).
    apiUrl: flags['api-url'] ?? (environment.GATEHOUSE_API_URL || undefined) ?? profile?.apiUrl ?? (issuer === preset?.issuer ? preset?.apiUrl : undefined),
  };
}
