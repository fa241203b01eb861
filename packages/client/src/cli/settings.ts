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
  // Empty variables count as unset (XDG Base Directory: "not set or empty"); an empty one was taken as the directory ''.
  const directory = flags['store-dir'] ?? (environment.GATEHOUSE_CONNECT_DIR || undefined)
    ?? join((environment.XDG_CONFIG_HOME || undefined) ?? join(homedir(), '.config'), 'gatehouse-connect');
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

/** What is wrong with a settings file. */
export type SettingsFileProblem = 'profiles_unreadable' | 'profiles_not_json' | 'profiles_not_object' | 'secret_unreadable' | 'secret_empty';

/** A settings file that cannot be used: a configuration mistake (exit 2), named with its path. */
export class SettingsFileError extends ConfigurationError {
  readonly file: string;
  readonly problem: SettingsFileProblem;
  /** @param detail the parser's or the file system's words, e.g. `no such file`. */
  constructor(file: string, problem: SettingsFileProblem, detail?: string) {
    // profiles.json holds only what `login` saved (no secret, no token): deleting it loses nothing login does not write again.
    const profilesAdvice = 'It holds the non-secret settings saved by `gatehouse-connect login`: fix it, or delete it and pass the settings '
      + 'again (--issuer, --client-id, --scope, --api-url) or log in again';
    super({
      profiles_unreadable: `${file} cannot be read (${detail}). ${profilesAdvice}`,
      profiles_not_json: `${file} is not valid JSON (${detail}). ${profilesAdvice}`,
      profiles_not_object: `${file} is not a JSON object of connection names. ${profilesAdvice}`,
      secret_unreadable: `--client-secret-file ${file} cannot be read (${detail}). Name the file holding the client secret, or set GATEHOUSE_CLIENT_SECRET`,
      secret_empty: `--client-secret-file ${file} is empty. Put the client secret in it, or omit the option for a public client`,
    }[problem]);
    this.file = file;
    this.problem = problem;
  }
}

/**
 * The saved profiles (`<store>/profiles.json`, an object by connection name); none when the file is absent.
 * @throws SettingsFileError when the file cannot be read or is not a JSON object.
 */
export function readProfiles(directory: string): Record<string, Profile> {
  const file = join(directory, 'profiles.json');
  if (!existsSync(file)) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SettingsFileError(file, 'profiles_unreadable', fileSystemProblem(error));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SettingsFileError(file, 'profiles_not_json', (error as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SettingsFileError(file, 'profiles_not_object');
  return parsed as Record<string, Profile>;
}

/**
 * The client secret in `file` (surrounding white space removed).
 * @throws SettingsFileError when the file cannot be read or is empty.
 */
function readSecretFile(file: string): string {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new SettingsFileError(file, 'secret_unreadable', fileSystemProblem(error));
  }
  if (secret === '') throw new SettingsFileError(file, 'secret_empty');
  return secret;
}

export function writeProfile(directory: string, name: string, profile: Profile | undefined): void {
  const profiles = readProfiles(directory);
  if (profile) profiles[name] = profile;
  else delete profiles[name];
  const file = join(directory, 'profiles.json');
  writeFileSync(file, `${JSON.stringify(profiles, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function fileSystemProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'a directory, not a file';
  return (error as Error).message;
}

/**
 * @param options.secretNeeded false when nothing will be sent with client authentication (`revoke` of a
 *   connection that holds no tokens): a confidential profile then does not demand the secret. Default true.
 * @throws ConfigurationError naming the missing setting and where to give it; SettingsFileError for a
 *   `--client-secret-file` that cannot be read or is empty.
 */
export function resolveSettings(flags: Flags, environment: NodeJS.ProcessEnv, profile: Profile | undefined, options: { secretNeeded?: boolean } = {}): Settings {
  // An empty variable counts as unset, every one of them (GATEHOUSE_CLIENT_ID, GATEHOUSE_SCOPE and GATEHOUSE_ENV were
  // taken as given: an empty one hid the profile's value and failed with "no client ID", "no scope" or a bad environment).
  const configuredIssuer = flags.issuer ?? (environment.GATEHOUSE_ISSUER || undefined) ?? profile?.issuer;
  // The development preset is the default only when no issuer was given anywhere (a saved profile included).
  const environmentName = (flags.environment ?? (environment.GATEHOUSE_ENV || undefined) ?? profile?.environment ?? (configuredIssuer ? undefined : 'development')) as Environment | undefined;
  if (environmentName !== undefined && !Object.hasOwn(ENVIRONMENT_PRESETS, environmentName)) {
    throw new ConfigurationError(`--environment must be development, staging or production (got "${environmentName}")`);
  }
  const preset = environmentName === undefined ? undefined : ENVIRONMENT_PRESETS[environmentName];
  const issuer = configuredIssuer ?? preset?.issuer;
  if (!issuer) throw new ConfigurationError(`no issuer: pass --issuer https://… or set GATEHOUSE_ISSUER (${environmentName} has no default)`);
  const clientId = flags['client-id'] ?? (environment.GATEHOUSE_CLIENT_ID || undefined) ?? profile?.clientId;
  if (!clientId) throw new ConfigurationError('no client ID: pass --client-id or set GATEHOUSE_CLIENT_ID (it was printed by `gatehouse clients create`)');
  const scope = flags.scope ?? (environment.GATEHOUSE_SCOPE || undefined) ?? profile?.scope;
  if (!scope) throw new ConfigurationError('no scope: pass --scope "users:read vendors:read" (scopes registered for the client) or set GATEHOUSE_SCOPE');
  const secretFile = flags['client-secret-file'];
  const clientSecret = secretFile ? readSecretFile(secretFile) : environment.GATEHOUSE_CLIENT_SECRET || undefined;
  if (options.secretNeeded !== false && profile?.clientType === 'confidential' && clientSecret === undefined && (profile.clientId === clientId)) {
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
