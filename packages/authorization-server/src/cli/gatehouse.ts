#!/usr/bin/env node
/**
 * `gatehouse`: the administrator's command line. Works on the database named by the configuration:
 * PostgreSQL when DATABASE_URL is set, else the SQLite file GATEHOUSE_DATABASE (default
 * ./data/gatehouse.sqlite); see configuration.ts.
 *
 *   gatehouse clients create --name NAME --type confidential|public --redirect-uri URI [--redirect-uri URI…]
 *                            --scope "a:b c:d" [--subject-type company|organization] [--json]
 *   gatehouse clients list [--json]
 *   gatehouse migrate [--json]                    applies the missing schema migrations (servers also do on start)
 *   gatehouse cleanup [--batch-size N] [--json]   deletes expired rows now (servers also do every minute)
 *
 * Exit codes: 0 done, 1 failed, 2 usage error or refused registration.
 * The client secret is printed once and never stored in the clear.
 */
import { parseArgs } from 'node:util';
import { systemClock } from '../clock.ts';
import { registerClient, RegistrationError } from '../clients/registration.ts';
import { describeDatabase, loadConfiguration } from '../configuration.ts';
import { migrateStorage, openStorage } from '../storage/open-storage.ts';
import type { CleanupResult, ClientType, SubjectType } from '../storage/storage.ts';

const USAGE = `Usage:
  gatehouse clients create --name NAME --type confidential|public --redirect-uri URI [--redirect-uri URI...]
                           --scope "a:b c:d" [--subject-type company|organization] [--json]
  gatehouse clients list [--json]
  gatehouse migrate [--json]
  gatehouse cleanup [--batch-size N] [--json]

The database: PostgreSQL when DATABASE_URL is set, else the SQLite file GATEHOUSE_DATABASE.`;

/** Rows per delete statement of `gatehouse cleanup` unless --batch-size says otherwise. */
const DEFAULT_CLEANUP_BATCH_SIZE = 500;
const MAX_CLEANUP_BATCH_SIZE = 100_000;

class UsageError extends Error {}

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
      'batch-size': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    });
  } catch (error) {
    // Unknown flags and flags without their value are usage errors (exit 2), like any other.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  const [group, command] = positionals;
  if (!values.help && (group === 'migrate' || group === 'cleanup')) {
    if (positionals.length > 1) throw new UsageError(`"${group}" takes no arguments (got "${positionals.slice(1).join(' ')}")`);
    return group === 'migrate' ? migrateCommand(values.json) : cleanupCommand(values['batch-size'], values.json);
  }
  if (values.help || group !== 'clients' || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (command !== 'create' && command !== 'list') throw new UsageError(`unknown command "clients ${command}"`);
  const subjectType = values['subject-type'];
  if (command === 'create') {
    // Every flag is checked before the database is opened (or created).
    if (!values.name) throw new UsageError('--name is required');
    if (values.type !== 'confidential' && values.type !== 'public') throw new UsageError('--type must be confidential or public');
    if (!values['redirect-uri']?.length) throw new UsageError('at least one --redirect-uri is required');
    if (!values.scope) throw new UsageError('--scope is required, e.g. --scope "users:read vendors:read"');
    if (subjectType !== undefined && subjectType !== 'company' && subjectType !== 'organization') {
      throw new UsageError('--subject-type must be company or organization');
    }
  }
  const configuration = loadConfiguration();
  const storage = await openStorage(configuration.database);
  try {
    if (command === 'create') {
      const { client, clientSecret } = await registerClient(
        { storage, environment: configuration.environment, brandName: configuration.brandName, now: systemClock.nowSeconds() },
        {
          clientName: values.name!, clientType: values.type as ClientType, redirectUris: values['redirect-uri']!,
          scopes: values.scope!.split(/\s+/).filter(Boolean), subjectType: (subjectType ?? null) as SubjectType | null,
        },
      );
      if (values.json) {
        console.log(JSON.stringify({
          client_id: client.clientId,
          ...(clientSecret ? { client_secret: clientSecret } : {}),
          client_name: client.clientName,
          token_endpoint_auth_method: client.clientType === 'confidential' ? 'client_secret_basic' : 'none',
          redirect_uris: client.redirectUris,
          scope: client.scopes.join(' '),
          subject_type: client.subjectType,
          status: client.status,
          client_id_issued_at: client.createdAt,
        }, null, 2));
      } else {
        console.log(`Registered ${client.clientType} client "${client.clientName}" (${client.status})`);
        console.log(`client_id:     ${client.clientId}`);
        if (clientSecret) console.log(`client_secret: ${clientSecret}\n\nThe secret is shown only this once. Store it on your server; never in browser or mobile code.`);
      }
      return 0;
    }
    if (command === 'list') {
      const clients = (await storage.clients.list()).filter((client) => client.kind === 'client');
      if (values.json) {
        console.log(JSON.stringify(clients.map((client) => ({
          client_id: client.clientId, client_name: client.clientName,
          token_endpoint_auth_method: client.clientType === 'confidential' ? 'client_secret_basic' : 'none',
          redirect_uris: client.redirectUris, scope: client.scopes.join(' '), subject_type: client.subjectType, status: client.status,
        })), null, 2));
      } else {
        for (const client of clients) {
          console.log(`${client.clientId}  ${client.clientType.padEnd(12)} ${client.status.padEnd(9)} ${client.clientName}  ${client.redirectUris.join(' ')}`);
        }
        if (clients.length === 0) console.log('No clients registered.');
      }
      return 0;
    }
    return 2;
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
  const storage = await openStorage(configuration.database);
  try {
    const result = await storage.cleanup.deleteExpired(systemClock.nowSeconds(), batchSize);
    const database = describeDatabase(configuration.database);
    if (json) {
      console.log(JSON.stringify({ database, batch_size: batchSize, ...result }, null, 2));
      return 0;
    }
    const labels: [keyof CleanupResult, string][] = [
      ['loginSessions', 'login sessions'], ['authorizationCodes', 'authorization codes'], ['accessTokens', 'access tokens'],
      ['refreshTokens', 'refresh tokens'], ['grants', 'revoked grants'], ['loginThrottleWindows', 'login rate-limit windows'],
    ];
    console.log(`${database}: deleted ${result.deleted} expired row${result.deleted === 1 ? '' : 's'} (batches of ${batchSize})`);
    for (const [key, label] of labels) console.log(`  ${label.padEnd(26)} ${result[key]}`);
    return 0;
  } finally {
    await storage.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof RegistrationError) console.error(`gatehouse: refused: ${error.message}`);
    else if (error instanceof UsageError) console.error(`gatehouse: ${error.message}\n\n${USAGE}`);
    else console.error('gatehouse: failed:', error instanceof Error ? error.message : error);
    process.exit(error instanceof RegistrationError || error instanceof UsageError ? 2 : 1);
  },
);
