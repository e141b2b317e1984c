import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Native addons (llama.cpp, SQLite) are safest in child processes.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // startReporter: each image-suite test says when it starts, so a run cut off at its limit names what it waited on.
    reporters: ["default", "./test/helpers/startReporter.ts"],
  },
});
