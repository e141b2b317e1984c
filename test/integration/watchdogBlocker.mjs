// Preloaded into the server under test only (NODE_OPTIONS=--import), never shipped:
// SIGUSR2 blocks the event loop for SOVEREIGN_TEST_BLOCK_MS, as a wedged handler would.
process.on("SIGUSR2", () => {
  const ms = Number(process.env.SOVEREIGN_TEST_BLOCK_MS ?? 3000);
  process.stderr.write(`test-blocker: blocking the event loop for ${ms} ms\n`);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Busy on purpose: nothing else in this process runs meanwhile.
  }
  process.stderr.write("test-blocker: unblocked\n");
});
