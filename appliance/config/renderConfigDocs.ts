import { describeAccepted, type Setting } from "../../core/config/setting.js";
import { settings } from "./settings.js";
import { editableByKey } from "./panelSettings.js";

/** docs/config.md, generated from the settings table (`npm run docs`); a test keeps the file current. */
export function renderConfigDocs(): string {
  const lines = [
    "# Configuration",
    "",
    "<!-- Generated from appliance/config by `npm run docs`. Do not edit by hand. -->",
    "",
    "Each setting can be given in six layers; a later layer wins:",
    "",
    "1. the default below;",
    "2. the board's defaults, when `node.board` names a board (images set it);",
    "3. the config file: `/etc/sovereign/config.json`, or the file named by `--config` or `SOVEREIGN_CONFIG`. It holds nested JSON, e.g. `{\"server\": {\"port\": 8080}}`; unknown keys are refused;",
    "4. the panel's settings: `<dataDir>/settings.json`, written by the Settings page (admins) for the settings marked \"panel\" below; same shape as the config file;",
    "5. the environment variable;",
    "6. the command-line flag of `sovereign serve`.",
    "",
    "`auto` (or JSON `null`) leaves the choice to the node, usually to hardware tuning (`sovereign hardware`). An invalid value stops startup with a message naming the setting and what it accepts.",
    "",
  ];
  let section = "";
  for (const s of settings as readonly Setting[]) {
    const head = s.key.split(".")[0] ?? "";
    if (head !== section) {
      section = head;
      lines.push(`## ${section}`, "");
    }
    const def = s.default === null ? "auto" : JSON.stringify(s.default);
    lines.push(
      `### \`${s.key}\``,
      "",
      s.help,
      "",
      `- Accepts: ${describeAccepted(s)}`,
      `- Default: \`${def}\``,
      `- Env: \`${s.env}\``,
      `- Flag: \`${s.flag}\``,
      ...(s.secret ? ["- Secret: never shown in full or logged"] : []),
      ...(editableByKey.has(s.key) ? [`- Panel: an admin can change it on the Settings page${editableByKey.get(s.key)?.live ? " (applies at once)" : " (applies after a restart)"}`] : []),
      "",
    );
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
