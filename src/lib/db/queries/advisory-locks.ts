/**
 * Session-level advisory locks: held by one client until released (or its connection ends), so
 * the caller keeps that client for the whole critical section.
 */
import type { Queryable } from './queryable';

export async function lockSession(db: Queryable, key: number): Promise<void> {
  await db.query('SELECT pg_advisory_lock($1)', [key]);
}

export async function unlockSession(db: Queryable, key: number): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1)', [key]);
}

/** A transaction-level advisory lock: held until the caller's transaction ends. */
export async function lockTransaction(db: Queryable, key: number): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [key]);
}
