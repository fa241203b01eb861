import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigurationError, generateTokenKey, loadConfiguration } from './configuration.ts';
import { startAuthorizationServer } from './main.ts';
import { seedDevelopmentData } from './seed/development-seed.ts';
import { createSqliteStorage } from './storage/sqlite/sqlite-storage.ts';

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-main-'));
after(() => rmSync(directory, { recursive: true, force: true }));

const production = (database: string) => loadConfiguration({
  GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: generateTokenKey(),
  GATEHOUSE_DATABASE: database, PORT: '0', HOST: '127.0.0.1', GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '0',
});

describe('starting in production (issue 14: production refuses development defaults)', () => {
  it('refuses a database holding the development seed (its client secrets are public) and does not listen', async () => {
    const database = join(directory, 'seeded.sqlite');
    const storage = createSqliteStorage(database);
    await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: Math.floor(Date.now() / 1000), apiAudience: 'http://localhost:3001' });
    await storage.close();
    await assert.rejects(startAuthorizationServer(production(database), { logger: false }), (error: ConfigurationError) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.problems[0]!, /^the database holds development seed data, refused in production: "Ledgerly Sync" \(7af385a0-/);
      assert.ok(!error.message.includes('pLymF1woY8w6obpIqEVnCB4M6iYockPCbOg9Y5ifLKM'), 'no secret in the message');
      return true;
    });
  });

  it('starts on a fresh database', async () => {
    const server = await startAuthorizationServer(production(join(directory, 'fresh.sqlite')), { logger: false });
    await server.close();
  });
});
