#!/usr/bin/env node
/**
 * `gatehouse-connect`: connect a registered client to Gatehouse from a terminal and try it, the way the
 * seeds suggest testing a registration with Postman ("complete the full authorization flow, confirm
 * access tokens can be retrieved, test token refresh behaviour") — but through `@gatehouse/client`, so
 * every integrator rule holds: PKCE S256, state, iss, exact redirect URI, HTTP Basic, tokens encrypted
 * at rest and never printed, centralised refresh.
 *
 *   gatehouse-connect login   [--subject URN] [--prompt-consent] [--no-open] [--timeout-seconds 300]
 *   gatehouse-connect status  [--json]
 *   gatehouse-connect refresh
 *   gatehouse-connect call    [METHOD] PATH [--data JSON] [--header "Name: value"…]   (METHOD: GET, or POST with --data)
 *   gatehouse-connect revoke                                                     (no tokens held: forgets, sends nothing)
 *
 * Common options: --connection NAME (default `default`), --environment development|staging|production,
 * --issuer URL, --client-id ID, --client-secret-file FILE, --redirect-uri URI, --scope "a:b c:d",
 * --api-url URL, --store-dir DIR, --verbose. Environment: GATEHOUSE_ISSUER, GATEHOUSE_ENV,
 * GATEHOUSE_CLIENT_ID, GATEHOUSE_CLIENT_SECRET, GATEHOUSE_REDIRECT_URI, GATEHOUSE_SCOPE, GATEHOUSE_API_URL,
 * GATEHOUSE_CONNECT_DIR, GATEHOUSE_CONNECT_ENCRYPTION_KEYS (see settings.ts).
 *
 * Exit codes: 0 done; 1 failed (or `status` of a connection that is not active, `call` answered ≥ 400);
 * 2 usage or configuration error (a malformed `call`, an unreadable settings file, or settings naming another
 * issuer or client than the stored connection was made with: its tokens are then not sent, RFC 6749 §10.4).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toConnection, type Connection } from '../connection.ts';
import { ENVIRONMENT_PRESETS, type Environment } from '../environments.ts';
import { ConfigurationError, ConnectionNotFoundError } from '../errors.ts';
import { createGatehouseClient, type GatehouseClient } from '../gatehouse-client.ts';
import { createFileLock } from '../locks/file.ts';
import type { LogEntry } from '../logging.ts';
import { createSqliteTokenStore } from '../stores/sqlite.ts';
import type { TokenStore } from '../token-store.ts';
import { isLoopbackHttpUrl } from '@gatehouse/protocol';
import { AuthorizationRequestRefusedError, probeAuthorizationRequest } from './authorization-probe.ts';
import { describeFailure } from './error-messages.ts';
import { listenOnRedirectUri } from './loopback-listener.ts';
import { openBrowser } from './open-browser.ts';
import { startProgress } from './progress.ts';
import { encryptionKeys, readProfiles, resolveSettings, SettingsFileError, storeDirectory, writeProfile, type Flags, type Profile, type Settings } from './settings.ts';

const USAGE = `Usage: gatehouse-connect <command> [options]

Commands:
  login     open the authorization URL, wait on the loopback redirect URI, store the connection (encrypted)
  status    show the stored connection (no network)
  refresh   refresh now: both tokens rotate
  call      call the API: gatehouse-connect call [METHOD] PATH [--data JSON] [--header "Name: value"]
            METHOD defaults to GET, or to POST when --data is given; --data with GET or HEAD is refused
  revoke    revoke the grant at the authorization server and delete the connection (one that holds no
            tokens, e.g. after invalid_grant, is just forgotten: nothing is sent, no secret needed)

Options:
  --connection NAME          which stored connection (default "default")
  --environment ENV          development (default: http://localhost:3000), staging or production (GATEHOUSE_ENV)
  --issuer URL               the authorization server (GATEHOUSE_ISSUER)
  --client-id ID             (GATEHOUSE_CLIENT_ID); the secret comes from GATEHOUSE_CLIENT_SECRET
  --client-secret-file FILE  read the secret from a file instead; none at all = a public client
                             (a stored connection is used only with the issuer and client ID it was made with)
  --redirect-uri URI         a registered loopback URI (GATEHOUSE_REDIRECT_URI, default ${'http://localhost:8080/callback'})
  --scope "a:b c:d"          scopes to request at login (GATEHOUSE_SCOPE)
  --api-url URL              the platform API (GATEHOUSE_API_URL; development: http://localhost:3001)
  --subject URN              login: pre-select the company or organization
  --prompt-consent           login: show the consent page even if a grant covers the scopes
  --no-open                  login: print the URL only, do not open a browser
  --timeout-seconds N        login: how long to wait for the browser (default 300)
  --store-dir DIR            where connections live (GATEHOUSE_CONNECT_DIR, default ~/.config/gatehouse-connect),
                             with the encryption keyring unless GATEHOUSE_CONNECT_ENCRYPTION_KEYS holds it
  --json                     status: machine-readable output
  --verbose                  print refresh attempts and outcomes (token fingerprints only)
  --no-dpop                  login: Bearer tokens for this connection, not bound to a DPoP key (RFC 9449;
                             bound is the default when the server offers DPoP, the key stored encrypted)
  --help`;

const CONNECTION_NAME = /^[A-Za-z0-9._-]{1,64}$/;

interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

class UsageError extends Error {}

export async function main(argv: string[], environment: NodeJS.ProcessEnv = process.env, output: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    output.stderr(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (flags.help || command === 'help') {
    output.stdout(`${USAGE}\n`);
    return 0;
  }
  const connectionName = flags.connection ?? 'default';
  let settings: Settings | undefined;
  let store: TokenStore | undefined;
  try {
    if (!command) throw new UsageError('missing command');
    if (!['login', 'status', 'refresh', 'call', 'revoke'].includes(command)) throw new UsageError(`unknown command "${command}"`);
    if (!CONNECTION_NAME.test(connectionName)) throw new UsageError('--connection must be 1-64 characters of A-Z a-z 0-9 . _ -');
    const directory = storeDirectory(flags, environment);
    store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });

    // status reads the store only: a broken profiles.json is reported, not fatal.
    if (command === 'status') return await status(store, connectionName, flags.json === true, output, directory);
    const profile = readProfiles(directory)[connectionName];
    const row = command === 'login' ? undefined : await store.get(connectionName);
    if (command !== 'login' && !row) throw new ConnectionNotFoundError(connectionName);
    // Checked before settings, tokens or any request: a malformed call is a usage error, not a network failure.
    const callRequest = command === 'call' ? callArguments(rest, flags) : undefined;

    // Revoking a connection that holds no tokens sends nothing, so it needs no client secret.
    const holdsTokens = row?.refreshTokenCiphertext != null;
    // login builds on the connection's profile unless another issuer, environment or client is named (loginProfile).
    const baseProfile = command === 'login' ? loginProfile(profile, flags, environment) : profile;
    settings = resolveSettings(flags, environment, baseProfile, { secretNeeded: command !== 'revoke' || holdsTokens });
    // `login --no-dpop` makes a Bearer connection, and its profile keeps later runs from adding a key, a login
    // building on it included (it made a reconnect DPoP-bound and saved the profile without the choice).
    const bearerOnly = flags['no-dpop'] === true || baseProfile?.dpop === false;
    const logFile = join(directory, 'gatehouse-connect.log');
    const client = createGatehouseClient({
      ...(settings.environment === undefined ? {} : { environment: settings.environment }),
      issuer: settings.issuer, clientId: settings.clientId,
      ...(settings.clientSecret === undefined ? {} : { clientSecret: settings.clientSecret }),
      redirectUri: settings.redirectUri, scope: settings.scope,
      ...(settings.apiUrl === undefined ? {} : { apiUrl: settings.apiUrl }),
      store, encryptionKeys: encryptionKeys(directory, environment),
      // Several gatehouse-connect processes may share this store: one refresh at a time across them.
      lock: createFileLock({ directory: join(directory, 'locks') }),
      // RFC 9449: DPoP by default when the server offers it; the key is stored sealed with the tokens.
      ...(bearerOnly ? { dpop: false } : {}),
      logger: (entry) => {
        appendFileSync(logFile, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
        if (flags.verbose) output.stderr(`${describeLogEntry(entry)}\n`);
      },
    });

    switch (command) {
      case 'login':
        return await login(client, settings, connectionName, flags, bearerOnly, directory, output);
      case 'refresh': {
        const connection = await client.refresh(connectionName);
        output.stdout(`Refreshed "${connectionName}": both tokens rotated; the access token expires ${describeExpiry(connection)}.\n`);
        return 0;
      }
      case 'call':
        // Issue 15 part 6: never send the access token to an origin the user did not configure.
        if (settings.apiUrl === undefined) {
          throw new ConfigurationError(`no API URL for "${connectionName}": pass --api-url https://… or set GATEHOUSE_API_URL (the access token is sent only to an API you name; ${settings.issuer} has no default one)`);
        }
        return await call(client, connectionName, callRequest!, flags, output);
      case 'revoke': {
        await client.revoke(connectionName);
        writeProfile(directory, connectionName, undefined);
        output.stdout(holdsTokens
          ? `Revoked "${connectionName}": the grant is revoked at ${settings.issuer} and the tokens are deleted.\n`
          : `Forgot "${connectionName}": it held no tokens (${row?.status}), so nothing was sent to ${settings.issuer}.\n`);
        return 0;
      }
    }
    return 2;
  } catch (error) {
    if (error instanceof UsageError) {
      output.stderr(`${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    const failure = describeFailure(error, { connection: connectionName, issuer: settings?.issuer, apiUrl: settings?.apiUrl });
    output.stderr(`gatehouse-connect: ${failure.message}\n`);
    return failure.exitCode;
  } finally {
    await store?.close();
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      connection: { type: 'string' },
      environment: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      'redirect-uri': { type: 'string' },
      scope: { type: 'string' },
      'api-url': { type: 'string' },
      'store-dir': { type: 'string' },
      subject: { type: 'string' },
      'prompt-consent': { type: 'boolean' },
      'no-open': { type: 'boolean' },
      'timeout-seconds': { type: 'string' },
      data: { type: 'string' },
      header: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      'no-dpop': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

type ParsedFlags = ReturnType<typeof parse>['values'] & Flags;

/**
 * The saved profile a `login` builds on (flags and variables still win): the connection's own, so
 * `gatehouse-connect login --connection NAME`, which a connection needing re-authorization is told to run,
 * reconnects at the issuer, with the client, scope, redirect URI and API URL it was made with. It ignored the
 * profile, so that command failed (no client ID, no scope) or went to the development preset's issuer. None when
 * the flags or variables name another issuer, environment or client ID: the profile's API URL, scope and redirect URI belong
 * to its own (issue 15 part 6: a token goes only to an API named for its issuer).
 */
function loginProfile(profile: Profile | undefined, flags: Flags, environment: NodeJS.ProcessEnv): Profile | undefined {
  if (profile === undefined) return undefined;
  // A named environment names its preset's issuer (development's), as resolveSettings takes it when no issuer is
  // given; another environment than the profile's is another registration. Without this, `--environment development`
  // (or GATEHOUSE_ENV) went to the profile's issuer, not the preset's.
  const environmentName = flags.environment ?? (environment.GATEHOUSE_ENV || undefined);
  if (environmentName !== undefined && profile.environment !== undefined && environmentName !== profile.environment) return undefined;
  const presetIssuer = environmentName !== undefined && Object.hasOwn(ENVIRONMENT_PRESETS, environmentName) ? ENVIRONMENT_PRESETS[environmentName as Environment].issuer : undefined;
  const issuer = flags.issuer ?? (environment.GATEHOUSE_ISSUER || undefined) ?? (profile.environment === undefined ? presetIssuer : undefined);
  const clientId = flags['client-id'] ?? (environment.GATEHOUSE_CLIENT_ID || undefined);
  const sameIssuer = issuer === undefined
    || (URL.canParse(issuer) && URL.canParse(profile.issuer) && new URL(issuer).href === new URL(profile.issuer).href);
  return sameIssuer && (clientId === undefined || clientId === profile.clientId) ? profile : undefined;
}

async function login(client: GatehouseClient, settings: Settings, name: string, flags: ParsedFlags, bearerOnly: boolean, directory: string, output: Output): Promise<number> {
  const redirectUri = new URL(settings.redirectUri);
  if (!isLoopbackHttpUrl(redirectUri)) {
    throw new ConfigurationError(`login receives the callback itself, so the redirect URI must be a registered loopback http URI such as http://localhost:8080/callback (got ${settings.redirectUri})`);
  }
  const timeoutSeconds = Number(flags['timeout-seconds'] ?? 300);
  if (!(timeoutSeconds > 0)) throw new UsageError('--timeout-seconds must be a positive number');
  // Listen first: a port already in use fails before the user is sent anywhere.
  const listener = await listenOnRedirectUri(redirectUri);
  let progress: ReturnType<typeof startProgress> | undefined;
  const cancel = () => {
    progress?.stop('Cancelled.');
    void listener.close().then(() => process.exit(130));
  };
  process.once('SIGINT', cancel);
  try {
    const { url, transaction } = await client.authorizationUrl({
      connectionId: name,
      ...(flags.subject === undefined ? {} : { subjectUrn: flags.subject }),
      ...(flags['prompt-consent'] ? { prompt: 'consent' as const } : {}),
    });
    if (settings.redirectUriIsDefault) {
      output.stderr(`Note: using the default redirect URI ${settings.redirectUri}; it must be registered for client ${settings.clientId} exactly (port included), else pass --redirect-uri or set GATEHOUSE_REDIRECT_URI.\n`);
    }
    // The server shows an error page and never redirects when the client or redirect URI is wrong: find out now, not after the timeout.
    const probe = await probeAuthorizationRequest(url);
    if (probe.refused) {
      const why = probe.message ? `: "${probe.message}"` : '';
      throw new AuthorizationRequestRefusedError(
        `The authorization server refused the authorization request before any login (HTTP ${probe.status}${why}), so it would never redirect to ${settings.redirectUri}. `
        + `Check that ${settings.redirectUri}${settings.redirectUriIsDefault ? ' (the default)' : ''} is among the redirect URIs registered for client ${settings.clientId} (exact match), that the client is approved, and the --client-id.`,
      );
    }
    output.stdout(`Open this URL in a browser to connect "${name}" (client ${settings.clientId}, ${settings.clientType}):\n\n  ${url.href}\n\n`);
    const opened = !flags['no-open'] && openBrowser(url.href);
    progress = startProgress(`${opened ? 'Browser opened. ' : ''}Waiting for the authorization server to redirect to ${settings.redirectUri} (Ctrl-C to cancel)…`);
    const callback = await listener.waitForCallback(transaction.state, timeoutSeconds * 1000);
    progress.stop();
    progress = undefined;
    try {
      const { connection } = await client.handleCallback(callback.url, transaction);
      callback.respond({ ok: true, title: 'Connected', message: `gatehouse-connect is connected to ${connection.subjectUrn}. You can close this window.` });
      writeProfile(directory, name, {
        environment: settings.environment, issuer: settings.issuer, clientId: settings.clientId, clientType: settings.clientType,
        redirectUri: settings.redirectUri, scope: settings.scope, apiUrl: settings.apiUrl,
        ...(bearerOnly ? { dpop: false as const } : {}),
      });
      output.stdout(`Connected "${name}" to ${connection.subjectUrn}\n  scope: ${connection.scope.join(' ')}\n  access token expires ${describeExpiry(connection)}\n`);
      if (settings.apiUrl === undefined) output.stderr('No API URL is configured: `call` needs --api-url or GATEHOUSE_API_URL (the token is sent only to an API you name).\n');
      return 0;
    } catch (error) {
      callback.respond({ ok: false, title: 'Not connected', message: describeFailure(error, { connection: name, issuer: settings.issuer }).message });
      throw error;
    }
  } finally {
    process.removeListener('SIGINT', cancel);
    progress?.stop();
    await listener.close();
  }
}

async function status(store: TokenStore, name: string, json: boolean, output: Output, directory: string): Promise<number> {
  try {
    readProfiles(directory);
  } catch (error) {
    if (!(error instanceof SettingsFileError)) throw error;
    output.stderr(`Warning: ${error.message}. Other commands stop until it is fixed.\n`);
  }
  const row = await store.get(name);
  if (!row) {
    if (json) output.stdout(`${JSON.stringify({ connection: name, status: 'not_connected' })}\n`);
    else output.stdout(`No connection "${name}". Run: gatehouse-connect login --connection ${name}\n`);
    return 1;
  }
  const connection = toConnection(row, /^urn:([^:]+):/.exec(row.subjectUrn)?.[1] ?? 'gatehouse');
  if (json) {
    output.stdout(`${JSON.stringify(connection)}\n`);
  } else {
    output.stdout([
      `connection  ${name}`,
      `status      ${connection.status}${connection.statusReason ? ` (${connection.statusReason})` : ''}`,
      `subject     ${connection.subjectUrn}`,
      `scope       ${connection.scope.join(' ')}`,
      `client      ${connection.clientId} at ${connection.issuer}`,
      ...(connection.status === 'active' ? [`expires     ${describeExpiry(connection)}`] : [`next        gatehouse-connect login --connection ${name}`]),
      '',
    ].join('\n'));
  }
  return connection.status === 'active' ? 0 : 1;
}

/** RFC 9110 §9.1: `method = token`; §5.6.2 `token = 1*tchar`. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A METHOD argument that is not an HTTP token. */
class MethodUsageError extends UsageError {
  constructor(method: string) {
    super(`"${method}" is not an HTTP method: METHOD is one word of letters, digits and !#$%&'*+-.^_\`|~ (RFC 9110 §9.1), e.g. GET, POST, PUT, PATCH or DELETE`);
  }
}

/** `--data` with an explicit GET or HEAD. */
class BodyUsageError extends UsageError {
  constructor(method: string) {
    super(`a ${method} request cannot carry --data: name another METHOD (e.g. POST, PUT or PATCH), or leave METHOD out and --data sends a POST`);
  }
}

/**
 * A `--header` that is not `Name: value` with a valid name and value (RFC 9110 §5.1, §5.5). The value is never
 * echoed (it may be a credential, e.g. an Authorization value); the name only when short, as written before a colon.
 */
class HeaderUsageError extends UsageError {
  constructor(header: string) {
    const separator = header.indexOf(':');
    const name = header.slice(0, Math.max(separator, 0)).trim();
    const got = separator <= 0 ? 'no colon' : name.length <= 40 ? `the name ${JSON.stringify(name)}, value not shown` : 'a name of over 40 characters, value not shown';
    super(`--header must be "Name: value" with a valid header name and value (got ${got})`);
  }
}

/** What `call` sends, from its arguments. */
interface CallRequest {
  method: string;
  path: string;
  headers: Headers;
}

/**
 * `[METHOD] PATH [--data JSON] [--header "Name: value"…]`: METHOD defaults to GET, or to POST when `--data` is
 * given (as `curl -d` does); `--data` with an explicit GET or HEAD is refused.
 * @throws UsageError (exit 2), before any token is read or request sent.
 */
function callArguments(positionals: string[], flags: ParsedFlags): CallRequest {
  const [first, second] = positionals;
  if (!first || positionals.length > 2) throw new UsageError('call takes [METHOD] PATH, e.g. gatehouse-connect call GET /v1/users');
  let method = flags.data === undefined ? 'GET' : 'POST';
  if (second !== undefined) {
    if (!HTTP_TOKEN.test(first)) throw new MethodUsageError(first);
    method = first.toUpperCase();
    if (flags.data !== undefined && (method === 'GET' || method === 'HEAD')) throw new BodyUsageError(method);
  }
  const headers = new Headers();
  for (const header of flags.header ?? []) {
    const separator = header.indexOf(':');
    if (separator <= 0) throw new HeaderUsageError(header);
    try {
      headers.append(header.slice(0, separator).trim(), header.slice(separator + 1).trim());
    } catch {
      throw new HeaderUsageError(header);
    }
  }
  if (flags.data !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  return { method, path: second ?? first, headers };
}

async function call(client: GatehouseClient, name: string, { method, path, headers }: CallRequest, flags: ParsedFlags, output: Output): Promise<number> {
  const response = await client.fetch(name, path, { method, headers, ...(flags.data === undefined ? {} : { body: flags.data }) });
  output.stderr(`HTTP ${response.status} ${response.statusText}\n`);
  const text = await response.text();
  let body = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      body = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // Not JSON after all: print as received.
    }
  }
  if (body) output.stdout(`${body}\n`);
  return response.ok ? 0 : 1;
}

function describeExpiry(connection: Connection): string {
  if (connection.accessTokenExpiresAt === null) return 'at an unknown time';
  const seconds = connection.accessTokenExpiresAt - Math.floor(Date.now() / 1000);
  return seconds >= 0 ? `in ${seconds} s` : `${-seconds} s ago (it is refreshed on next use)`;
}

function describeLogEntry(entry: LogEntry): string {
  const details = Object.entries(entry).filter(([name]) => name !== 'time' && name !== 'event').map(([name, value]) => `${name}=${value}`);
  return `[${entry.time}] ${entry.event} ${details.join(' ')}`;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
