#!/usr/bin/env node
/**
 * `gatehouse`: the administrator's command line. Works on the database named by the configuration
 * (GATEHOUSE_DATABASE, default ./data/gatehouse.sqlite); see configuration.ts.
 *
 *   gatehouse clients create --name NAME --type confidential|public --redirect-uri URI [--redirect-uri URI…]
 *                            --scope "a:b c:d" [--subject-type company|organization] [--json]
 *   gatehouse clients list [--json]
 *
 * The client secret is printed once and never stored in the clear.
 */
import { parseArgs } from 'node:util';
import { systemClock } from '../clock.ts';
import { registerClient, RegistrationError } from '../clients/registration.ts';
import { loadConfiguration } from '../configuration.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { ClientType, SubjectType } from '../storage/storage.ts';

const USAGE = `Usage:
  gatehouse clients create --name NAME --type confidential|public --redirect-uri URI [--redirect-uri URI...]
                           --scope "a:b c:d" [--subject-type company|organization] [--json]
  gatehouse clients list [--json]`;

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
  const storage = createSqliteStorage(configuration.databasePath);
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof RegistrationError) console.error(`gatehouse: refused: ${error.message}`);
    else if (error instanceof UsageError) console.error(`gatehouse: ${error.message}\n\n${USAGE}`);
    else console.error('gatehouse: failed:', error instanceof Error ? error.message : error);
    process.exit(error instanceof RegistrationError || error instanceof UsageError ? 2 : 1);
  },
);
