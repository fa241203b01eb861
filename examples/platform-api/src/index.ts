export { createPlatformApi, PLATFORM_API_DEVELOPMENT_DEFAULTS, platformApiVerifierOptions, startPlatformApi } from './platform-api.ts';
export type { PlatformApiOptions, RunningPlatformApi, ValidationMode } from './platform-api.ts';
export { defaultPublicOrigin, platformApiOptionsFromEnvironment } from './environment.ts';
export type { PlatformApiDeployment, PlatformApiEnvironmentOptions } from './environment.ts';
export { createDataStore } from './data-store.ts';
export type { DataStore, NewVendor } from './data-store.ts';
export { SEED_DATA, SEED_IDS, seedUuid } from './seed-data.ts';
export type {
  Account,
  AccountType,
  Company,
  Employee,
  EmployeeRole,
  ExportItem,
  ExportJob,
  ExportJobStatus,
  Organization,
  SeedData,
  Vendor,
} from './seed-data.ts';
export { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, paginate } from './pagination.ts';
export type { Page, PageRequest } from './pagination.ts';
