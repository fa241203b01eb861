/**
 * One authorization-server instance as its own process, for tests that run several on one database:
 * configured from the environment exactly as a deployment is (configuration.ts; `GATEHOUSE_LOG=off`
 * silences its JSON logs on stdout). Prints `gatehouse-instance listening <url>` once it accepts
 * requests; SIGTERM closes it gracefully (requests in flight, cleanup job, database) and exits 0.
 */
import { loadConfiguration } from '../configuration.ts';
import { startAuthorizationServer } from '../main.ts';
import { exitGracefullyOnSignals } from '../operations/shutdown.ts';

const configuration = loadConfiguration();
const server = await startAuthorizationServer(configuration, { logger: process.env.GATEHOUSE_LOG !== 'off' });
console.log(`gatehouse-instance listening ${server.url}`);
// Issue 14: the same graceful shutdown a deployment gets (operations/shutdown.ts).
exitGracefullyOnSignals(() => server.shutDown(configuration.shutdownGraceSeconds), (message, details) => console.error(JSON.stringify({ msg: message, ...details })));
