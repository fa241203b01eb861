/**
 * Observing storage from outside: metrics (operations/metrics.ts) and tracing (operations/tracing.ts) each
 * wrap every operation the same way, so the walk over the storage's stores is written once, here.
 */
import type { Storage } from './storage.ts';

/** One storage operation, as the wrapper receives it (bound to its store) and returns it. */
export type StorageOperation = (...args: unknown[]) => Promise<unknown>;

/**
 * A storage whose every operation (a function of one of its stores, named `<store>.<operation>`, e.g.
 * `tokens.rotateRefreshToken`) is what `wrap` makes of it. `wrap` runs once per operation, when the storage
 * is wrapped (choose per-operation series and labels there, not on every call). The storage's own functions
 * (`close`, …) stay bound to it unwrapped, and other members are kept as they are.
 */
export function wrapStorageOperations(storage: Storage, wrap: (operation: string, call: StorageOperation) => StorageOperation): Storage {
  const wrapped: Record<string, unknown> = {};
  for (const [group, members] of Object.entries(storage)) {
    if (members === null || typeof members !== 'object') {
      wrapped[group] = typeof members === 'function' ? (members as (...args: unknown[]) => unknown).bind(storage) : members;
      continue;
    }
    const operations: Record<string, unknown> = {};
    for (const [name, member] of Object.entries(members)) {
      operations[name] = typeof member === 'function' ? wrap(`${group}.${name}`, (member as StorageOperation).bind(members)) : member;
    }
    wrapped[group] = operations;
  }
  return wrapped as unknown as Storage;
}
