/**
 * The growing login delay both backends apply (storage.ts `LoginDelayRule`, SPEC decision 18, issue 10 §3).
 */
import type { LoginDelayRule } from './storage.ts';

/**
 * Seconds an attempt on a key must still wait, 0 when it may go on.
 * @param failures the key's failures not yet forgotten. @param lastFailureAt seconds since the epoch
 * (null: none recorded, no wait). @param now seconds since the epoch.
 */
export function loginDelayWaitSeconds(rule: LoginDelayRule, failures: number, lastFailureAt: number | null, now: number): number {
  if (lastFailureAt === null || failures < rule.freeFailures) return 0;
  // 2^k overflows to Infinity past k = 1023; Math.min keeps the cap.
  const delaySeconds = Math.min(rule.maxDelaySeconds, rule.baseDelaySeconds * 2 ** (failures - rule.freeFailures));
  return Math.max(0, lastFailureAt + delaySeconds - now);
}
