/**
 * PostgreSQL: a deadlock (40P01) or serialization failure (40001) rolled the whole statement back, so it
 * runs again (three attempts in all). For the single statements that lock several rows (the code
 * exchange's, the batched refresh rotations'); the driver's transactions retry the same way on their own.
 */
export async function retryingDeadlocks<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code === '40P01' || code === '40001') && attempt < 3) continue;
      throw error;
    }
  }
}
