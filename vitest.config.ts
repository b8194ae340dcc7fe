import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Keep test output readable; tests that inspect logs install their own logger.
    env: { STITCH_LOG_LEVEL: process.env.STITCH_LOG_LEVEL ?? 'error' },
    // Two cores: more parallel files only contend for the same CPU and database.
    maxWorkers: 2,
  },
});
