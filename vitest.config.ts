import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files each start their own PostgreSQL; two cores run two files at a time.
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Only when integration files run: the system programs they need are installed.
          globalSetup: ['test/integration.globalSetup.ts'],
        },
      },
    ],
  },
});
