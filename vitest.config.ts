import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests spawn real kustomize and git; two cores are shared with them.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
