/**
 * What every query module takes as its first argument: the pool, or a client inside a transaction
 * the caller owns (so several queries can commit together). Query modules never call `getPool()`.
 */
import type pg from 'pg';

export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;
