import type { BoardProfile } from "./BoardProfile.js";
import { arm64Uefi } from "./arm64Uefi.js";
import { jetsonOrin } from "./jetsonOrin.js";
import { rpi4 } from "./rpi4.js";
import { rpi5 } from "./rpi5.js";
import { x86_64 } from "./x86_64.js";

/** Every board the builder knows, in the order `sovereign image boards` lists them. */
export const boards: readonly BoardProfile[] = [x86_64, arm64Uefi, jetsonOrin, rpi4, rpi5];

export const boardIds = ["x86_64", "arm64-uefi", "jetson-orin", "rpi4", "rpi5"] as const;
export type BoardId = (typeof boardIds)[number];

export function findBoard(id: string): BoardProfile | undefined {
  return boards.find((b) => b.id === id);
}
