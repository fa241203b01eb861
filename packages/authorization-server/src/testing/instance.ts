/**
 * One authorization-server instance as its own process, for tests that run several on one database:
 * configured from the environment exactly as a deployment is (configuration.ts; `GATEHOUSE_LOG=off`
 * silences its JSON logs on stdout). Prints `gatehouse-instance listening <url>` once it accepts
 * requests; SIGTERM closes it (requests, cleanup job, database) and exits 0.
 */
import { loadConfiguration } from '../configuration.ts';
import { startAuthorizationServer } from '../main.ts';

const server = await startAuthorizationServer(loadConfiguration(), { logger: process.env.GATEHOUSE_LOG !== 'off' });
console.log(`gatehouse-instance listening ${server.url}`);
process.once('SIGTERM', () => {
  server.close().then(() => process.exit(0), (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
