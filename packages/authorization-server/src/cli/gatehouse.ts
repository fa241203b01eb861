#!/usr/bin/env node
/**
 * `gatehouse`: the administrator's command line. Works on the database named by the configuration:
 * PostgreSQL when DATABASE_URL is set, else the SQLite file GATEHOUSE_DATABASE (default
 * ./data/gatehouse.sqlite); see configuration.ts. Every client change goes through
 * clients/client-management.ts (the same rules and audit events as the admin API and the portal), with
 * the actor `admin:cli`.
 *
 * Exit codes: 0 done, 1 failed, 2 usage error or refused change (a field rule, an unknown client, or a
 * state that does not allow it). Secrets (client secrets, administrator tokens) are printed once and
 * never stored in the clear.
 */
import { parseArgs } from 'node:util';
import { createAdminToken, revokeAdminToken } from '../admin/admin-credentials.ts';
import { systemClock } from '../clock.ts';
import { clientToJson } from '../clients/client-json.ts';
import {
  approveClient, ClientManagementError, deleteClient, findManagedClient, reactivateClient, rotateClientSecret, setPkceException,
  suspendClient, updateClient, type ClientMetadataChanges, type ManagementContext,
} from '../clients/client-management.ts';
import { setPushedAuthorizationRequestsRequired } from '../clients/client-management.ts';
import { setDpopBoundAccessTokens } from '../clients/client-management.ts';
import { registerClient, RegistrationError } from '../clients/registration.ts';
import { describeDatabase, loadConfiguration } from '../configuration.ts';
import { WEBHOOK_USAGE, webhookCommand, webhookUsageProblem } from './webhook-command.ts';
import { DIRECTORY_COMMAND_GROUPS, DIRECTORY_USAGE, runDirectoryCommand } from './directory-commands.ts';
import { auditCommand } from './audit-command.ts';
import { backupCommand } from './backup-command.ts';
import { configCommand } from './config-command.ts';
import { keysCommand } from './keys-command.ts';
import { API_KEYS_USAGE, apiKeysCommand } from './api-keys-command.ts';
import { runCleanup } from '../storage/cleanup-job.ts';
import { migrateStorage } from '../storage/open-storage.ts';
import { openCliStorage } from './cli-storage.ts';
import { type CliFailure, reportCliFailure, unexpectedFailure, wantsJson } from './cli-failure.ts';
import type { CleanupResult, ClientRecord, ClientType, Storage, SubjectType } from '../storage/storage.ts';

const CLIENT_FIELDS = `[--client-uri URI] [--tos-uri URI] [--policy-uri URI] [--initiation-uri URI] [--settings-uri URI]
                           [--contact EMAIL...] [--subject-type company|organization|none]
                           [--description TEXT] [--category accounting|payroll|crm|reporting|e-commerce|other]`;
const USAGE = `Usage:
  gatehouse clients create --name NAME --type confidential|public --redirect-uri URI [--redirect-uri URI...]
                           --scope "a:b c:d" ${CLIENT_FIELDS} [--json]
  gatehouse clients list [--json]
  gatehouse clients show CLIENT_ID [--json]
  gatehouse clients update CLIENT_ID [--name NAME] [--redirect-uri URI...] [--scope "a:b c:d"]
                           ${CLIENT_FIELDS} [--pkce-exception true|false] [--require-par true|false] [--dpop-bound true|false] [--json]
  gatehouse clients approve|suspend|reactivate|delete CLIENT_ID [--json]
  gatehouse clients rotate-secret CLIENT_ID [--overlap-seconds N] [--revoke-grants] [--json]
${WEBHOOK_USAGE}
  gatehouse admins create-token --name NAME [--json]
  gatehouse admins list-tokens [--json]
  gatehouse admins revoke-token --name NAME [--json]
  gatehouse admins grant-console|revoke-console USER_ID [--json]
  gatehouse migrate [--json]
  gatehouse cleanup [--batch-size N] [--json]
  gatehouse keys rotate-token-key [--activate-after-seconds N] [--json]
  gatehouse keys rotate [--prepublish-seconds N] [--json]
  gatehouse keys list [--json]
  gatehouse config check [--offline] [--json]
  gatehouse audit export --since ISO8601 [--format jsonl|csv]
  gatehouse backup FILE [--json]              (SQLite; PostgreSQL: pg_dump)
  gatehouse restore FILE [--force] [--json]   (SQLite; stop the servers first)${DIRECTORY_USAGE}${API_KEYS_USAGE}

Page URIs, --description and --category are cleared with an empty value (--tos-uri ""). --redirect-uri, --contact and --scope replace the
whole list. The database: PostgreSQL when DATABASE_URL is set, else the SQLite file GATEHOUSE_DATABASE.`;

/** Rows per delete statement of `gatehouse cleanup` unless --batch-size says otherwise. */
const DEFAULT_CLEANUP_BATCH_SIZE = 500;
const MAX_CLEANUP_BATCH_SIZE = 100_000;
const CLIENT_COMMANDS = ['create', 'list', 'show', 'update', 'approve', 'suspend', 'reactivate', 'rotate-secret', 'delete', 'webhook'];

class UsageError extends Error {}
/** A well-formed command the data refuses (a taken or unknown name): exit 2, without the usage text. */
class Refusal extends Error {}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      type: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      scope: { type: 'string' },
      'subject-type': { type: 'string' },
      'client-uri': { type: 'string' },
      'tos-uri': { type: 'string' },
      'policy-uri': { type: 'string' },
      'initiation-uri': { type: 'string' },
      'settings-uri': { type: 'string' },
      contact: { type: 'string', multiple: true },
      // Issue 13 (Marketplace): the listing's description and category (validated with the other metadata).
      description: { type: 'string' },
      category: { type: 'string' },
      'pkce-exception': { type: 'string' },
      'require-par': { type: 'string' },
      'dpop-bound': { type: 'string' },
      'overlap-seconds': { type: 'string' },
      'revoke-grants': { type: 'boolean', default: false },
      url: { type: 'string' },
      remove: { type: 'boolean', default: false },
      // Issue 15 §5: "clients webhook" (cli/webhook-command.ts).
      events: { type: 'string' },
      'rotate-secret': { type: 'boolean', default: false },
      show: { type: 'boolean', default: false },
      deliveries: { type: 'boolean', default: false },
      resend: { type: 'string' },
      'batch-size': { type: 'string' },
      'activate-after-seconds': { type: 'string' },
      'prepublish-seconds': { type: 'string' },
      force: { type: 'boolean', default: false },
      since: { type: 'string' },
      format: { type: 'string' },
      json: { type: 'boolean', default: false },
      offline: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    });
  } catch (error) {
    // Unknown flags and flags without their value are usage errors (exit 2), like any other.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

type Values = ReturnType<typeof parseCommandLine>['values'];

async function main(argv: string[]): Promise<number> {
  // The directory (organizations, companies, users, import, resource servers, developers): cli/directory-commands.ts.
  if (DIRECTORY_COMMAND_GROUPS.has(argv[0] ?? '')) return runDirectoryCommand(argv);
  // Issue 16: API keys (cli/api-keys-command.ts).
  if (argv[0] === 'api-keys' && !argv.includes('--help') && !argv.includes('-h')) {
    return apiKeysCommand(argv.slice(1)).catch((error: unknown) => { throw error instanceof RangeError ? new UsageError(error.message) : error; });
  }
  const { values, positionals } = parseCommandLine(argv);
  const [group, command, ...rest] = positionals;
  if (!values.help && (group === 'migrate' || group === 'cleanup')) {
    if (positionals.length > 1) throw new UsageError(`"${group}" takes no arguments (got "${positionals.slice(1).join(' ')}")`);
    return group === 'migrate' ? migrateCommand(values.json) : cleanupCommand(values['batch-size'], values.json);
  }
  if (!values.help && group === 'audit') {
    // Issue 14: audit export (cli/audit-command.ts).
    return auditCommand(command, rest, { since: values.since, format: values.format })
      .catch((error: unknown) => { throw error instanceof RangeError ? new UsageError(error.message) : error; });
  }
  if (!values.help && (group === 'backup' || group === 'restore')) {
    // Issue 14: SQLite backups (cli/backup-command.ts).
    try {
      return backupCommand(group, positionals.slice(1), { force: values.force, json: values.json });
    } catch (error) {
      throw error instanceof RangeError ? new UsageError(error.message) : error;
    }
  }
  if (!values.help && group === 'config') {
    // Issue 14: the configuration as a server start would read it, secrets masked (cli/config-command.ts).
    return configCommand(command, rest, { json: values.json, offline: values.offline })
      .catch((error: unknown) => { throw error instanceof RangeError ? new UsageError(error.message) : error; });
  }
  if (!values.help && group === 'keys') {
    // Issue 14: key rotation (cli/keys-command.ts).
    return keysCommand(command, rest, { activateAfterSeconds: values['activate-after-seconds'], prepublishSeconds: values['prepublish-seconds'], json: values.json })
      .catch((error: unknown) => { throw error instanceof RangeError ? new UsageError(error.message) : error; });
  }
  if (!values.help && group === 'admins' && (command === 'grant-console' || command === 'revoke-console')) {
    // Issue 13: the platform-administrator role of a directory user (the console at /admin).
    if (rest.length !== 1) throw new UsageError(`"admins ${command}" needs exactly one USER_ID`);
    return consoleRoleCommand(command, rest[0]!.toLowerCase(), values.json);
  }
  if (!values.help && group === 'admins') {
    const known = command === 'create-token' || command === 'list-tokens' || command === 'revoke-token';
    if (!known || rest.length > 0) throw new UsageError(`unknown command "admins ${positionals.slice(1).join(' ')}"`);
    if (command === 'list-tokens') return adminTokensListCommand(values.json);
    if (!values.name) throw new UsageError(command === 'create-token' ? '--name is required (who holds the token; audit events name it)' : '--name is required (the token to revoke)');
    return command === 'create-token' ? adminTokenCommand(values.name, values.json) : adminTokenRevokeCommand(values.name, values.json);
  }
  if (values.help || group !== 'clients' || !command) {
    if (!values.help && group !== undefined && group !== 'clients') throw new UsageError(`unknown command "${group}"`);
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (!CLIENT_COMMANDS.includes(command)) throw new UsageError(`unknown command "clients ${command}"`);
  // Every flag is checked before the database is opened (or created).
  const subjectType = values['subject-type'];
  if (subjectType !== undefined && subjectType !== 'company' && subjectType !== 'organization' && subjectType !== 'none') {
    throw new UsageError('--subject-type must be company, organization or none');
  }
  let clientId: string | undefined;
  if (command === 'create') {
    if (!values.name) throw new UsageError('--name is required');
    if (values.type !== 'confidential' && values.type !== 'public') throw new UsageError('--type must be confidential or public');
    if (!values['redirect-uri']?.length) throw new UsageError('at least one --redirect-uri is required');
    if (!values.scope) throw new UsageError('--scope is required, e.g. --scope "users:read vendors:read"');
    if (rest.length > 0) throw new UsageError('"clients create" takes no CLIENT_ID');
  } else if (command === 'list') {
    if (rest.length > 0) throw new UsageError('"clients list" takes no arguments');
  } else {
    if (rest.length !== 1) throw new UsageError(`"clients ${command}" needs exactly one CLIENT_ID`);
    clientId = rest[0]!;
  }
  // A boolean option of "clients update": given elsewhere, or with a value other than true or false, each says which.
  const booleanOption = (name: 'pkce-exception' | 'require-par' | 'dpop-bound'): string | undefined => {
    const value = values[name];
    if (value === undefined) return undefined;
    if (command !== 'update') throw new UsageError(`--${name} true|false is an option of "clients update"`);
    if (value !== 'true' && value !== 'false') throw new UsageError(`--${name} takes true or false (got "${value.slice(0, 20)}")`);
    return value;
  };
  const pkceException = booleanOption('pkce-exception');
  // RFC 9126 §6 require_pushed_authorization_requests.
  const requirePar = booleanOption('require-par');
  // RFC 9449 §5.2 dpop_bound_access_tokens.
  const dpopBound = booleanOption('dpop-bound');
  const overlapFlag = values['overlap-seconds'];
  if ((overlapFlag !== undefined || values['revoke-grants']) && command !== 'rotate-secret') {
    throw new UsageError('--overlap-seconds and --revoke-grants are options of "clients rotate-secret"');
  }
  if (overlapFlag !== undefined && !/^\d{1,9}$/.test(overlapFlag)) throw new UsageError('--overlap-seconds must be a whole number of seconds');

  // Issue 15 §5: exactly one webhook action, only for "clients webhook".
  const webhookProblem = webhookUsageProblem(command, values);
  if (webhookProblem) throw new UsageError(webhookProblem);

  const configuration = loadConfiguration();
  const storage = await openCliStorage(configuration);
  try {
    const context: ManagementContext = {
      storage, environment: configuration.environment, brandName: configuration.brandName, now: systemClock.nowSeconds(), actor: 'admin:cli',
      urnNamespace: configuration.urnNamespace,
    };
    const changes = metadataChanges(values);
    switch (command) {
      case 'create': {
        const { client, clientSecret } = await registerClient(context, {
          clientName: values.name!, clientType: values.type as ClientType, redirectUris: values['redirect-uri']!,
          scopes: values.scope!.split(/\s+/).filter(Boolean), subjectType: changes.subjectType ?? null,
          clientUri: changes.clientUri ?? null, tosUri: changes.tosUri ?? null, policyUri: changes.policyUri ?? null,
          initiationUri: changes.initiationUri ?? null, settingsUri: changes.settingsUri ?? null, contacts: changes.contacts ?? [],
          description: changes.description ?? null, category: changes.category ?? null,
        });
        if (values.json) {
          console.log(JSON.stringify({ ...clientToJson(client), ...(clientSecret ? { client_secret: clientSecret } : {}) }, null, 2));
        } else {
          console.log(`Registered ${client.clientType} client "${client.clientName}" (${client.status})`);
          console.log(`client_id:     ${client.clientId}`);
          if (clientSecret) console.log(`client_secret: ${clientSecret}\n\nThe secret is shown only this once. Store it on your server; never in browser or mobile code.`);
        }
        return 0;
      }
      case 'list': {
        const clients = (await storage.clients.list()).filter((client) => client.kind === 'client');
        if (values.json) {
          console.log(JSON.stringify(clients.map(clientToJson), null, 2));
        } else {
          for (const client of clients) {
            console.log(`${client.clientId}  ${client.clientType.padEnd(12)} ${client.status.padEnd(9)} ${client.clientName}  ${client.redirectUris.join(' ')}`);
          }
          if (clients.length === 0) console.log('No clients registered.');
        }
        return 0;
      }
      case 'show':
        printClient(await findManagedClient(storage, clientId!), values.json);
        return 0;
      case 'update': {
        if (values.type !== undefined) throw new UsageError('--type cannot change: register a new client instead');
        let client = Object.keys(changes).length > 0 ? await updateClient(context, clientId!, changes) : await findManagedClient(storage, clientId!);
        if (pkceException !== undefined) client = await setPkceException(context, clientId!, pkceException === 'true');
        if (requirePar !== undefined) client = await setPushedAuthorizationRequestsRequired(context, clientId!, requirePar === 'true');
        if (dpopBound !== undefined) client = await setDpopBoundAccessTokens(context, clientId!, dpopBound === 'true');
        printClient(client, values.json);
        return 0;
      }
      case 'approve':
        printClient(await approveClient(context, clientId!), values.json);
        return 0;
      case 'webhook':
        return await webhookCommand(storage, configuration, clientId!, values, context.now, (message) => new UsageError(message));
      case 'suspend':
        printClient(await suspendClient(context, clientId!), values.json);
        return 0;
      case 'reactivate':
        printClient(await reactivateClient(context, clientId!), values.json);
        return 0;
      case 'delete': {
        const { client, grantsRevoked } = await deleteClient(context, clientId!);
        if (values.json) console.log(JSON.stringify({ ...clientToJson(client), grants_revoked: grantsRevoked }, null, 2));
        else console.log(`Deleted client "${client.clientName}" (${client.clientId}); revoked ${grantsRevoked} grant${grantsRevoked === 1 ? '' : 's'}.`);
        return 0;
      }
      case 'rotate-secret': {
        const { client, clientSecret, grantsRevoked } = await rotateClientSecret(context, clientId!, {
          overlapSeconds: overlapFlag === undefined ? 0 : Number(overlapFlag), revokeGrants: values['revoke-grants'],
        });
        if (values.json) {
          console.log(JSON.stringify({ ...clientToJson(client), client_secret: clientSecret, grants_revoked: grantsRevoked }, null, 2));
        } else {
          console.log(`client_secret: ${clientSecret}\n\nThe secret is shown only this once.`);
          console.log(client.previousSecretExpiresAt === null
            ? 'The previous secret no longer works.'
            : `The previous secret works until ${new Date(client.previousSecretExpiresAt * 1000).toISOString()}.`);
          if (values['revoke-grants']) console.log(`Revoked ${grantsRevoked} grant${grantsRevoked === 1 ? '' : 's'}.`);
        }
        return 0;
      }
    }
    return 2;
  } finally {
    await storage.close();
  }
}

/** The metadata flags given, as changes (an empty page URI clears it; `--subject-type none` clears the preference). */
function metadataChanges(values: Values): ClientMetadataChanges {
  const changes: ClientMetadataChanges = {};
  const uri = (flag: string) => {
    const value = (values as Record<string, unknown>)[flag] as string | undefined;
    return value === undefined ? undefined : value === '' ? null : value;
  };
  if (values.name !== undefined) changes.clientName = values.name;
  if (values['redirect-uri'] !== undefined) changes.redirectUris = values['redirect-uri'];
  if (values.scope !== undefined) changes.scopes = values.scope.split(/\s+/).filter(Boolean);
  if (values['subject-type'] !== undefined) changes.subjectType = values['subject-type'] === 'none' ? null : values['subject-type'] as SubjectType;
  if (values.contact !== undefined) changes.contacts = values.contact.filter(Boolean);
  const uris = { clientUri: uri('client-uri'), tosUri: uri('tos-uri'), policyUri: uri('policy-uri'), initiationUri: uri('initiation-uri'), settingsUri: uri('settings-uri') };
  for (const [field, value] of Object.entries(uris)) if (value !== undefined) (changes as Record<string, unknown>)[field] = value;
  // Issue 13 (Marketplace): '' clears; validateClientMetadata refuses a category outside the list.
  if (values.description !== undefined) changes.description = values.description || null;
  if (values.category !== undefined) changes.category = (values.category || null) as ClientMetadataChanges['category'];
  return changes;
}

function printClient(client: ClientRecord, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(clientToJson(client), null, 2));
    return;
  }
  const rows: [string, string][] = [
    ['client_id', client.clientId], ['client_name', client.clientName], ['status', client.status],
    ['token_endpoint_auth_method', client.clientType === 'confidential' ? 'client_secret_basic' : 'none'],
    ['redirect_uris', client.redirectUris.join(' ')], ['scope', client.scopes.join(' ')], ['subject_type', client.subjectType ?? '(none: company)'],
    ['pkce_required', String(client.pkceRequired)], ['client_uri', client.clientUri ?? ''], ['logo_uri', client.logoUri ?? ''],
    ['tos_uri', client.tosUri ?? ''], ['policy_uri', client.policyUri ?? ''], ['initiation_uri', client.initiationUri ?? ''],
    ['settings_uri', client.settingsUri ?? ''], ['contacts', client.contacts.join(' ')], ['branding_verified', String(client.brandingVerified)],
    ['require_pushed_authorization_requests', String(client.requirePushedAuthorizationRequests ?? false)],
    ['dpop_bound_access_tokens', String(client.dpopBoundAccessTokens ?? false)],
    ['description', client.description ?? ''], ['category', client.category ?? ''],
  ];
  for (const [name, value] of rows) console.log(`${name.padEnd(27)} ${value}`);
}

/** `gatehouse admins create-token`: a new administrator bearer token for the admin API, printed once. */
async function adminTokenCommand(name: string, json: boolean | undefined): Promise<number> {
  const configuration = loadConfiguration();
  const storage: Storage = await openCliStorage(configuration);
  try {
    let created;
    try {
      created = await createAdminToken(storage, name, systemClock.nowSeconds());
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw new Refusal(`could not create a token named "${name}" (is the name taken? gatehouse admins list-tokens)`);
    }
    if (json) console.log(JSON.stringify({ name, token: created.token, created_at: created.credential.createdAt }, null, 2));
    else console.log(`Administrator token for "${name}":\n${created.token}\n\nShown only this once; only its SHA-256 is stored. Send it as "Authorization: Bearer <token>" to /admin/v1/.`);
    return 0;
  } finally {
    await storage.close();
  }
}

/** `gatehouse admins list-tokens`: the administrator tokens' names and creation times (never a token). */
async function adminTokensListCommand(json: boolean | undefined): Promise<number> {
  const storage: Storage = await openCliStorage(loadConfiguration());
  try {
    const credentials = await storage.adminCredentials.list();
    if (json) console.log(JSON.stringify(credentials.map((credential) => ({ name: credential.name, created_at: credential.createdAt })), null, 2));
    else if (credentials.length === 0) console.log('No administrator tokens.');
    else for (const credential of credentials) console.log(`${credential.name.padEnd(32)} created ${new Date(credential.createdAt * 1000).toISOString()}`);
    return 0;
  } finally {
    await storage.close();
  }
}

/** `gatehouse admins revoke-token --name NAME`: the token stops working at once; exit 2 when no token has that name. */
async function adminTokenRevokeCommand(name: string, json: boolean | undefined): Promise<number> {
  const storage: Storage = await openCliStorage(loadConfiguration());
  try {
    if (!(await revokeAdminToken(storage, name, systemClock.nowSeconds()))) throw new Refusal(`no administrator token is named "${name}" (gatehouse admins list-tokens)`);
    if (json) console.log(JSON.stringify({ name, revoked: true }, null, 2));
    else console.log(`Revoked the administrator token "${name}": the admin API refuses it from now on.`);
    return 0;
  } finally {
    await storage.close();
  }
}

/** `gatehouse admins grant-console|revoke-console USER_ID`: exit 2 for an unknown user (grant) or one without the role (revoke). */
async function consoleRoleCommand(command: 'grant-console' | 'revoke-console', userId: string, json: boolean | undefined): Promise<number> {
  const configuration = loadConfiguration();
  const storage: Storage = await openCliStorage(configuration);
  try {
    const now = systemClock.nowSeconds();
    const changed = command === 'grant-console'
      ? await storage.consoleAdministrators.grant(userId, now)
      : await storage.consoleAdministrators.revoke(userId);
    if (!changed) throw new UsageError(command === 'grant-console' ? `no user ${userId}` : `user ${userId} does not hold the platform-administrator role`);
    await storage.audit.record({ type: command === 'grant-console' ? 'console.role_granted' : 'console.role_revoked', at: now, actor: 'admin:cli', details: { user_id: userId } });
    const holds = command === 'grant-console';
    if (json) console.log(JSON.stringify({ user_id: userId, platform_administrator: holds }, null, 2));
    else console.log(holds ? `User ${userId} may now use the console at /admin.` : `User ${userId} no longer holds the platform-administrator role.`);
    return 0;
  } finally {
    await storage.close();
  }
}

/** `gatehouse migrate`: applies the missing migrations (safe while servers run, and on PostgreSQL while others migrate). */
async function migrateCommand(json: boolean | undefined): Promise<number> {
  const configuration = loadConfiguration();
  const { applied, version } = await migrateStorage(configuration.database);
  const database = describeDatabase(configuration.database);
  if (json) console.log(JSON.stringify({ database, applied, version }, null, 2));
  else if (applied.length === 0) console.log(`${database}: up to date at schema version ${version}`);
  else console.log(`${database}: applied migration${applied.length > 1 ? 's' : ''} ${applied.join(', ')}; now at schema version ${version}`);
  return 0;
}

/** `gatehouse cleanup`: one cleanup run now (storage.ts `cleanup.deleteExpired`), printing what it deleted. */
async function cleanupCommand(batchSizeFlag: string | undefined, json: boolean | undefined): Promise<number> {
  const batchSize = batchSizeFlag === undefined ? DEFAULT_CLEANUP_BATCH_SIZE : Number(batchSizeFlag);
  if (!/^\d+$/.test(batchSizeFlag ?? '1') || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_CLEANUP_BATCH_SIZE) {
    throw new UsageError(`--batch-size must be a whole number from 1 to ${MAX_CLEANUP_BATCH_SIZE}`);
  }
  const configuration = loadConfiguration();
  const storage = await openCliStorage(configuration);
  try {
    // Issue 14: GATEHOUSE_AUDIT_RETENTION_DAYS is honoured here as by the servers' cleanup job.
    const result = await runCleanup(storage, systemClock.nowSeconds(), batchSize, configuration.cleanup.auditRetentionSeconds, configuration.cleanup.webhookDeliveryRetentionSeconds);
    const database = describeDatabase(configuration.database);
    if (json) {
      console.log(JSON.stringify({ database, batch_size: batchSize, ...result }, null, 2));
      return 0;
    }
    const labels: [keyof CleanupResult, string][] = [
      ['loginSessions', 'login sessions'], ['authorizationCodes', 'authorization codes'], ['accessTokens', 'access tokens'],
      ['refreshTokens', 'refresh tokens'], ['grants', 'revoked grants'], ['loginThrottleWindows', 'login rate-limit windows'],
      ['interactions', 'consent interactions'],
      ['rateLimitWindows', 'OAuth rate-limit windows'],
      ['knownDevices', 'known devices'],
      ['pushedRequests', 'pushed requests (PAR)'],
    ];
    console.log(`${database}: deleted ${result.deleted} expired row${result.deleted === 1 ? '' : 's'} (batches of ${batchSize})`);
    for (const [key, label] of labels) console.log(`  ${label.padEnd(26)} ${result[key]}`);
    if (result.auditEvents !== undefined) console.log(`  ${'audit events (retention)'.padEnd(26)} ${result.auditEvents}`);
    if (result.webhookDeliveries !== undefined) console.log(`  ${'webhook deliveries (retention)'.padEnd(26)} ${result.webhookDeliveries}`);
    return 0;
  } finally {
    await storage.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(reportCliFailure(describeFailure(error), wantsJson(process.argv))),
);

function describeFailure(error: unknown): CliFailure {
  if (error instanceof UsageError) return { error: 'usage', line: error.message, description: error.message, exitCode: 2, usage: USAGE };
  if (error instanceof RegistrationError || error instanceof ClientManagementError || error instanceof Refusal) {
    // RFC 7591 §3.2.2's code for a refused registration; not_found or conflict for a client that cannot take the step.
    const code = error instanceof RegistrationError ? error.error : error instanceof ClientManagementError ? error.reason : 'refused';
    return { error: code, line: `refused: ${error.message}`, description: error.message, field: error instanceof RegistrationError ? error.field : undefined, exitCode: 2 };
  }
  return unexpectedFailure(error);
}
