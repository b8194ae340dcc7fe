/**
 * What every query module takes as its first argument: the pool, or a client inside a transaction
 * the caller owns (so several queries can commit together). Query modules never fetch the pool
 * themselves.
 */
import type pg from 'pg';

export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** One attempt of a node instance (the engine's `NodeRef`). */
export interface AttemptRef {
  runId: string;
  versionId: string;
  instanceId: string;
  attempt: number;
}
