import { createMemoryTokenStore } from './memory.ts';
import { describeTokenStoreContract } from './token-store-contract.ts';

describeTokenStoreContract('memory', async () => ({ store: createMemoryTokenStore(), dispose: async () => {} }));
