import { defineConfig } from 'vitest/config';

// Tests that talk to Kafka or Redis share one broker: run files one at a time so that
// topic and consumer-group traffic of one file never races another's assertions.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
