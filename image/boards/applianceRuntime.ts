/**
 * The runtime settings every image gives its node (the board layer of the
 * node's config, under /etc/sovereign and the panel): it serves the LAN (and
 * so HTTPS, server.tls "auto"), Ollama's API on Ollama's port, and reads
 * recovery files that a root unit copies off the boot partition
 * (image/lib/consoleUnits.ts). Boards add their own tuning beside it.
 */
export const applianceRuntime = {
  "server.host": "0.0.0.0",
  "paths.dataDir": "/var/lib/sovereign",
  "ollama.port": 11434,
  "auth.recoveryDirs": ["/var/lib/sovereign/recovery"],
} as const;
