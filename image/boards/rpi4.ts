import type { BoardProfile } from "./BoardProfile.js";

export const rpi4: BoardProfile = {
  id: "rpi4",
  title: "Raspberry Pi 4",
  arch: "arm64",
  // SD cards are slow and small: keep the SQLite cache modest.
  runtime: { "server.host": "0.0.0.0", "paths.dataDir": "/var/lib/sovereign", "tuning.sqliteCacheMb": 16 },
};
