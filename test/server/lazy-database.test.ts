/**
 * Issue 12 A.6: a run of harness-only worker tests ("no database") starts no PostgreSQL; a file that
 * needs one gets it. Each case is a child vitest run of one file on the embedded default.
 */
import { describe, expect, it } from 'vitest';
import { runIn } from '../scratch-project';

function vitestRun(file: string): string {
  const { DATABASE_URL: _ignored, ...env } = process.env;
  return runIn(process.cwd(), process.execPath, ['node_modules/vitest/vitest.mjs', 'run', file], {
    ...env,
    DATABASE_URL: '',
    STITCH_LOG_LEVEL: 'info',
    NO_COLOR: '1',
  } as Record<string, string>);
}

describe('the test database starts only for files that need it', () => {
  it('harness-only worker tests: no PostgreSQL', () => {
    const out = vitestRun('src/lib/workers/__tests__/testing.test.ts');
    expect(out).toMatch(/Test Files\s+1 passed/);
    expect(out).not.toMatch(/embedded PostgreSQL/);
  }, 120_000);

  it('a file with a database: one PostgreSQL', () => {
    const out = vitestRun('src/lib/engine/__tests__/switch.test.ts');
    expect(out).toMatch(/Test Files\s+1 passed/);
    expect(out).toMatch(/initialising the embedded PostgreSQL/);
  }, 120_000);
});
