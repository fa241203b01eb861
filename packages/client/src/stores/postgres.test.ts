import pg from 'pg';
import { postgresSkipReason, POSTGRES_URL, uniqueSchemaName } from '../testing/services.ts';
import { createPostgresTokenStore } from './postgres.ts';
import { describeTokenStoreContract } from './token-store-contract.ts';

const skip = await postgresSkipReason();

describeTokenStoreContract('postgres', async () => {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  const schema = uniqueSchemaName();
  const store = await createPostgresTokenStore({ pool, schema });
  return {
    store,
    async dispose() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}, skip);
