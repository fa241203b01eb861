/**
 * Starting the authorization server from configuration: opens and migrates the database, seeds
 * development data, and listens.
 */
import type { FastifyInstance } from 'fastify';
import { createAuthorizationServer } from './authorization-server.ts';
import { generateTokenKey, type Configuration } from './configuration.ts';
import { systemClock } from './clock.ts';
import { describeDevelopmentSeed, seedDevelopmentData } from './seed/development-seed.ts';
import { createSqliteStorage } from './storage/sqlite/sqlite-storage.ts';

export interface RunningAuthorizationServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startAuthorizationServer(configuration: Configuration, options: { logger?: boolean; announce?: (line: string) => void } = {}): Promise<RunningAuthorizationServer> {
  const storage = createSqliteStorage(configuration.databasePath);
  const tokenKey = configuration.tokenKey ?? Buffer.from(await storage.settings.getOrCreate('development_token_key', generateTokenKey), 'base64url');
  if (configuration.environment === 'development') {
    const seeded = await seedDevelopmentData(storage, { brandName: configuration.brandName, now: systemClock.nowSeconds(), apiAudience: configuration.apiAudience });
    options.announce?.(`${seeded ? 'Seeded' : 'Found'} development data in ${configuration.databasePath}`);
    options.announce?.(describeDevelopmentSeed(configuration.issuer));
  }
  const app = await createAuthorizationServer({
    issuer: configuration.issuer,
    environment: configuration.environment,
    storage,
    brand: { name: configuration.brandName, urnNamespace: configuration.urnNamespace },
    accessTokenAudience: configuration.apiAudience,
    tokenHmacKey: tokenKey,
    trustProxy: configuration.trustProxy ?? false,
    logger: options.logger ?? true,
  });
  const url = await app.listen({ port: configuration.port, host: configuration.host });
  return {
    app,
    url,
    async close() {
      await app.close();
      await storage.close();
    },
  };
}
