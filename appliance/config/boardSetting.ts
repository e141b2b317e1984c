import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";
import { boardIds } from "../../image/boards/registry.js";

/** The board this node runs on: the only setting that needs the image's board registry, so it lives in the composition root. */
export const boardSettings = [
  setting.enum({
    key: "node.board", env: "SOVEREIGN_BOARD", flag: "--board",
    values: ["auto", ...boardIds] as const, default: "auto",
    help: "The board this node runs on. Images set it; \"auto\" detects it and applies no board defaults.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof boardSettings> {}
}
