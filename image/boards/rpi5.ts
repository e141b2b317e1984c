import type { BoardProfile } from "./BoardProfile.js";

export const rpi5: BoardProfile = {
  id: "rpi5",
  title: "Raspberry Pi 5",
  arch: "arm64",
  runtime: { "server.host": "0.0.0.0", "paths.dataDir": "/var/lib/sovereign" },
};
