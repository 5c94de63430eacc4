import { defineConfig } from 'vitest/config';

// Three projects, one shape: `unit` mirrors src/ and runs pure code in seconds (no processes,
// servers, registries or sockets); `integration` talks to real peers (Debian registry, gRPC
// sidecar, oidc-provider, HTTP fault servers, openssl) and runs the CLI in process; `e2e` spawns
// the built CLI and checks what ships (demo, Dockerfile, bake, action, README recipe, exports).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000, hookTimeout: 20_000 },
      },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
    ],
  },
});
