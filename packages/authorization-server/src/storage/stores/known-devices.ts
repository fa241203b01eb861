/**
 * Browsers that signed a user in before (issue 10 §3; storage.ts `Storage['knownDevices']`), stored only
 * as the device cookie's SHA-256, written once for both databases over the SQL driver (issue 12).
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

export function createKnownDeviceStore(db: SqlDriver): Storage['knownDevices'] {
  return {
    async remember(deviceDigest, userId, now, expiresAt) {
      // One statement; a device remembered again keeps the later expiry (CASE: SQLite has no GREATEST,
      // PostgreSQL no two-argument MAX; expires_at is NOT NULL on both).
      await db.run(
        `INSERT INTO known_devices (device_digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (device_digest, user_id) DO UPDATE SET expires_at =
           CASE WHEN excluded.expires_at > known_devices.expires_at THEN excluded.expires_at ELSE known_devices.expires_at END`,
        [deviceDigest, userId, now, expiresAt],
      );
    },
    async isKnown(deviceDigest, userId, now) {
      return (await db.get('SELECT 1 AS found FROM known_devices WHERE device_digest = ? AND user_id = ? AND expires_at > ?', [deviceDigest, userId, now])) !== undefined;
    },
  };
}
