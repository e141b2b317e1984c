import type { BoardProfile } from "./BoardProfile.js";

export const jetsonOrin: BoardProfile = {
  id: "jetson-orin",
  title: "NVIDIA Jetson Orin (UEFI, JetPack 6)",
  arch: "arm64",
  runtime: { "server.host": "0.0.0.0", "paths.dataDir": "/var/lib/sovereign" },
};
