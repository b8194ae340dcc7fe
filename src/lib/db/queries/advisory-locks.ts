/**
 * Advisory locks. Session-level ones are held by one client until released (or its connection
 * ends), so the caller keeps that client for the whole critical section; a collection lock is held
 * to the end of the caller's transaction.
 */
import type { Queryable } from './queryable';

export async function lockSession(db: Queryable, key: number): Promise<void> {
  await db.query('SELECT pg_advisory_lock($1)', [key]);
}

export async function unlockSession(db: Queryable, key: number): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1)', [key]);
}

/**
 * Within the caller's transaction: one addition to a bounded collection at a time (its count, then
 * its insert), so two concurrent additions never both pass the limit. `name` names the
 * collection, e.g. `schedules:<flow id>`; its own key space (class 57175) collides with no other lock.
 */
export async function lockCollection(db: Queryable, name: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(57175, hashtext($1))', [name]);
}
