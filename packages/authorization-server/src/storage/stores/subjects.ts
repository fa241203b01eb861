/**
 * Subjects (companies and organizations) and the users who administer them (storage.ts
 * `Storage['subjects']`), written once for both databases over the SQL driver (issue 12).
 */
import { toSubject } from '../rows.ts';
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

export function createSubjectStore(db: SqlDriver): Storage['subjects'] {
  // Names in byte order on both: SQLite's BINARY, and COLLATE "C" on PostgreSQL whatever the database's
  // collation (SQLite has no collation named "C").
  const byName = db.dialect === 'postgres' ? 's.name COLLATE "C"' : 's.name';
  return {
    async create(subject) {
      await db.run('INSERT INTO subjects (subject_type, subject_id, name, organization_id) VALUES (?, ?, ?, ?)',
        [subject.subjectType, subject.subjectId, subject.name, subject.organizationId]);
    },
    async find(subjectType, subjectId) {
      const row = await db.get('SELECT * FROM subjects WHERE subject_type = ? AND subject_id = ?', [subjectType, subjectId]);
      return row && toSubject(row);
    },
    async addAdministrator(userId, subjectType, subjectId) {
      await db.run('INSERT INTO subject_administrators (user_id, subject_type, subject_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [userId, subjectType, subjectId]);
    },
    async listAdministeredBy(userId, subjectType) {
      return (await db.all(
        `SELECT s.* FROM subjects s JOIN subject_administrators a ON a.subject_type = s.subject_type AND a.subject_id = s.subject_id
         WHERE a.user_id = ? AND s.subject_type = ? ORDER BY ${byName}`,
        [userId, subjectType],
      )).map(toSubject);
    },
  };
}
