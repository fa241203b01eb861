/**
 * Readiness (storage.ts `checkReady`): what `/health/ready` asks of a storage.
 */
import { describe, it } from 'node:test';
import { type ContractBackend } from './fixtures.ts';

export function readinessContract({ withStorage }: ContractBackend): void {
  describe('readiness', () => {
    it('checkReady resolves on a reachable, fully migrated storage (/health/ready)', withStorage(async (storage) => {
      await storage.checkReady();
    }));
  });
}
