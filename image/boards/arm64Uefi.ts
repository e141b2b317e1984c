import type { BoardProfile } from "./BoardProfile.js";

export const arm64Uefi: BoardProfile = {
  id: "arm64-uefi",
  title: "Generic arm64 (UEFI)",
  arch: "arm64",
  runtime: { "server.host": "0.0.0.0", "paths.dataDir": "/var/lib/sovereign" },
};
