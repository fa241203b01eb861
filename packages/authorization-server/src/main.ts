/**
 * Starting the authorization server from configuration: opens and migrates the database (SQLite, or
 * PostgreSQL when `DATABASE_URL` is set), seeds development data, starts the periodic cleanup, and listens.
 * Any number of instances may run on one PostgreSQL database: everything they share is stored there.
 */
import type { FastifyInstance } from 'fastify';
import { createAuthorizationServer } from './authorization-server.ts';
import { ConfigurationError, describeDatabase, generateTokenKey, type Configuration } from './configuration.ts';
import { systemClock } from './clock.ts';
import { DEVELOPMENT_SEED, DEVELOPMENT_SEED_CLIENTS, describeDevelopmentSeed, developmentSeedProblem, seedDevelopmentData } from './seed/development-seed.ts';
import { startCleanupJob, type CleanupJob } from './storage/cleanup-job.ts';
import { startWebhookWorker, type WebhookWorker } from './webhooks/webhook-worker.ts';
import { webhookSecretKey } from './webhooks/webhook-secret.ts';
import { createMetrics, startMetricsServer } from './operations/metrics.ts';
import { shutDownGracefully } from './operations/shutdown.ts';
import { type AuditStream, AuditStreamError, openAuditStream } from './operations/audit-stream.ts';
import { createTracing, type Tracing } from './operations/tracing.ts';
import { openStorage } from './storage/open-storage.ts';
import type { Storage } from './storage/storage.ts';

export interface RunningAuthorizationServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
  /**
   * Issue 14: stops accepting, lets requests in flight finish for up to `graceSeconds`, then stops the
   * cleanup job and closes storage (operations/shutdown.ts). @returns false when the deadline cut requests.
   */
  shutDown(graceSeconds: number): Promise<boolean>;
}

export async function startAuthorizationServer(configuration: Configuration, options: { logger?: boolean; announce?: (line: string) => void } = {}): Promise<RunningAuthorizationServer> {
  // Issue 14: audit events as JSON lines to stdout or a file (GATEHOUSE_AUDIT_STREAM). Opened first: a file that
  // cannot be appended to is a configuration problem, refused before the database is touched or anything seeded.
  let auditStream: AuditStream | undefined;
  try {
    auditStream = configuration.auditStream ? openAuditStream(configuration.auditStream) : undefined;
  } catch (error) {
    if (error instanceof AuditStreamError) throw new ConfigurationError([error.message]);
    throw error;
  }
  let storage: Storage;
  try {
    storage = await openStorage(configuration.database);
  } catch (error) {
    await auditStream?.close();
    throw error;
  }
  let cleanup: CleanupJob | undefined;
  let webhooks: WebhookWorker | undefined;
  let app: FastifyInstance | undefined;
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let tracing: Tracing | undefined;
  try {
    // Development only; other environments require GATEHOUSE_TOKEN_KEY. Shared through the database, so
    // instances started together agree on one key (settings.getOrCreate).
    const tokenKey = configuration.tokenKey ?? Buffer.from(await storage.settings.getOrCreate('development_token_key', generateTokenKey), 'base64url');
    // Issue 14: staging and production refuse development defaults, seeded data included.
    if (configuration.environment !== 'development') await refuseDevelopmentSeed(storage, configuration.environment);
    if (configuration.environment === 'development') {
      const seeded = await seedOnce(storage, { brandName: configuration.brandName, now: systemClock.nowSeconds(), apiAudience: configuration.apiAudience });
      options.announce?.(`${seeded ? 'Seeded' : 'Found'} development data in ${describeDatabase(configuration.database)}`);
      options.announce?.(describeDevelopmentSeed(configuration.issuer));
    }
    // Issue 14: Prometheus metrics, process metrics included; on their own port when GATEHOUSE_METRICS_PORT is set.
    const metrics = createMetrics({ processMetrics: true });
    // Issue 14: OpenTelemetry tracing, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    tracing = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? createTracing() : undefined;
    app = await createAuthorizationServer({
      tracer: tracing?.tracer ?? null,
      auditStream: auditStream ?? null,
      metrics,
      serveMetrics: configuration.metricsPort === undefined,
      issuer: configuration.issuer,
      environment: configuration.environment,
      storage,
      brand: { name: configuration.brandName, urnNamespace: configuration.urnNamespace },
      accessTokenAudience: configuration.apiAudience,
      accessTokenFormat: configuration.accessTokenFormat,
      refreshTokenReuseGraceSeconds: configuration.refreshTokenReuseGraceSeconds,
      tokenHmacKey: tokenKey,
      trustProxy: configuration.trustProxy ?? false,
      oauthEndpointRateLimit: configuration.oauthEndpointRateLimit,
      teamInvitationsPerHour: configuration.teamInvitationsPerHour,
      localAccounts: configuration.localAccounts,
      requirePushedAuthorizationRequests: configuration.requirePushedAuthorizationRequests,
      dpopNonceRequired: configuration.dpopNonceRequired ?? false,
      webhookAllowPrivateAddresses: configuration.webhookAllowPrivateAddresses,
      upstreamIdentityProvider: configuration.upstreamIdentityProvider,
      logger: options.logger ?? true,
    });
    const log = app.log;
    if (configuration.cleanup.intervalSeconds > 0) {
      cleanup = startCleanupJob(storage, {
        intervalSeconds: configuration.cleanup.intervalSeconds,
        batchSize: configuration.cleanup.batchSize,
        auditRetentionSeconds: configuration.cleanup.auditRetentionSeconds,
        webhookDeliveryRetentionSeconds: configuration.cleanup.webhookDeliveryRetentionSeconds,
        clock: systemClock,
        onResult: (result) => {
          metrics.cleanupDeletedRows.inc(result.deleted);
          if (result.deleted > 0) log.info({ event: 'cleanup', ...result }, 'deleted expired rows');
        },
        onError: (error) => {
          metrics.cleanupFailures.inc();
          log.error({ event: 'cleanup.failed', err: error }, 'cleanup failed');
        },
      });
    }
    // Issue 15 §5: every instance delivers due partner webhooks (leased, so never twice at once); to public addresses
    // only, but in development or with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES in staging (webhook-secret.ts).
    webhooks = startWebhookWorker({
      storage, clock: systemClock, secretKey: webhookSecretKey(tokenKey), intervalSeconds: 5,
      environment: configuration.environment, allowPrivateAddresses: configuration.webhookAllowPrivateAddresses,
      onError: (error) => log.error({ event: 'webhooks.failed', err: error }, 'webhook delivery run failed'),
      // Why an attempt failed (ENOTPUBLIC: the host is not public here), which the delivery log's status 0 cannot say.
      onAttemptFailed: ({ deliveryId, clientId, status, reason }) =>
        log.warn({ event: 'webhooks.attempt_failed', delivery_id: deliveryId, client_id: clientId, status, reason }, 'webhook delivery attempt failed'),
    });
    const url = await app.listen({ port: configuration.port, host: configuration.host });
    if (configuration.metricsPort !== undefined) {
      metricsServer = await startMetricsServer(metrics, configuration.metricsPort, configuration.host);
      options.announce?.(`Prometheus metrics: ${metricsServer.url}`);
    }
    const running = app;
    const closeResources = async () => {
      await metricsServer?.close();
      await tracing?.shutdown().catch(() => {});
      await cleanup?.stop();
      await webhooks?.stop();
      await storage.close();
      await auditStream?.close().catch(() => {});
    };
    return {
      app: running,
      url,
      async close() {
        await running.close();
        await closeResources();
      },
      shutDown: (graceSeconds) => shutDownGracefully({
        stopServing: () => running.close(), httpServer: running.server, closeResources, cancelStatements: storage.cancelStatements?.bind(storage),
      }, graceSeconds),
    };
  } catch (error) {
    await app?.close().catch(() => {});
    await metricsServer?.close().catch(() => {});
    await tracing?.shutdown().catch(() => {});
    await cleanup?.stop().catch(() => {});
    await webhooks?.stop().catch(() => {});
    await storage.close().catch(() => {});
    await auditStream?.close().catch(() => {});
    throw error;
  }
}

/**
 * Seeds development data unless it is there. Two development instances starting on one fresh database
 * both find it missing; the later one's first insert then clashes, and it waits for the other's seed to
 * finish instead of failing (the resource server is the last thing seeded).
 */
async function seedOnce(storage: Storage, context: Parameters<typeof seedDevelopmentData>[1]): Promise<boolean> {
  try {
    return await seedDevelopmentData(storage, context);
  } catch (error) {
    for (let waited = 0; waited < 15_000; waited += 100) {
      if (await storage.clients.find(DEVELOPMENT_SEED.resourceServer.id)) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw error;
  }
}

/**
 * Issue 14: the development seed's clients have their secrets in the README; a staging or production
 * database holding them (a copied development database) must not serve.
 * @throws ConfigurationError naming the seeded clients found.
 */
async function refuseDevelopmentSeed(storage: Storage, environment: string): Promise<void> {
  const live = [];
  for (const client of DEVELOPMENT_SEED_CLIENTS) {
    const found = await storage.clients.find(client.id);
    if (found && found.status !== 'deleted') live.push(client.id);
  }
  const problem = developmentSeedProblem(live, environment);
  if (problem !== undefined) throw new ConfigurationError([problem]);
}
