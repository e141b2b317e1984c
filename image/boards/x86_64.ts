import type { BoardProfile } from "./BoardProfile.js";

export const x86_64: BoardProfile = {
  id: "x86_64",
  title: "x86_64 PC (UEFI)",
  arch: "amd64",
  runtime: { "server.host": "0.0.0.0", "paths.dataDir": "/var/lib/sovereign" },
};
