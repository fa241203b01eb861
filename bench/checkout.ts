/**
 * The storage, token codec and seeder of another checkout (a worktree at an older commit, say), for the
 * bench scripts that compare two versions of the storage in one run (`--root`, `--variant NAME=ROOT`).
 * Imported by path, so each checkout's modules (and their migrations) are its own.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

type SqliteStorageModule = typeof import('../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts');
type CodecModule = typeof import('../packages/authorization-server/src/tokens/opaque-token.ts');
type SeedModule = typeof import('./gatehouse-sqlite-seed.ts');

/** The checkout these scripts run from: the default `--root`. */
export const THIS_CHECKOUT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** `createSqliteStorage` of the checkout at `root`. */
export async function checkoutStorage(root: string): Promise<SqliteStorageModule['createSqliteStorage']> {
  return (await import(join(root, 'packages/authorization-server/src/storage/sqlite/sqlite-storage.ts')) as SqliteStorageModule).createSqliteStorage;
}

/** `createOpaqueTokenCodec` of the checkout at `root`. */
export async function checkoutCodec(root: string): Promise<CodecModule['createOpaqueTokenCodec']> {
  return (await import(join(root, 'packages/authorization-server/src/tokens/opaque-token.ts')) as CodecModule).createOpaqueTokenCodec;
}

/** bench/gatehouse-sqlite-seed.ts of the checkout at `root`. */
export async function checkoutSeeder(root: string): Promise<SeedModule> {
  return await import(join(root, 'bench/gatehouse-sqlite-seed.ts')) as SeedModule;
}
