import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { editableSettings, panelSettingsPath, readPanelSettings, writePanelSetting } from "../../appliance/config/panelSettings.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { settings } from "../../appliance/config/settings.js";
import { loadConfig } from "../../appliance/config/loadConfig.js";
import { boards } from "../../image/boards/registry.js";
import { serviceEnvironment } from "../../image/lib/units.js";
import type { SovereignError } from "../../core/errors/SovereignError.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "sovereign-panel-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the panel's settings layer (<dataDir>/settings.json)", () => {
  it("names only real, non-secret, non-path settings", () => {
    const byKey = new Map(settings.map((s) => [s.key, s]));
    for (const e of editableSettings) {
      const s = byKey.get(e.key);
      expect(s, e.key).toBeDefined();
      expect(s!.secret, e.key).toBe(false);
      expect(s!.type.kind, e.key).not.toBe("path");
    }
  });

  it("sits above the config file and below env and flags", () => {
    const file = { server: { host: "10.0.0.1" }, log: { level: "warn" } };
    const panel = { server: { host: "0.0.0.0" }, log: { level: "debug" }, auth: { quotaTokensPerDay: 5000 } };
    const r = resolveConfig({ file, panel, env: { SOVEREIGN_LOG_LEVEL: "error" }, flags: { "auth.quotaTokensPerDay": "7" }, cwd: "/" });
    expect(r.config["server.host"]).toBe("0.0.0.0");
    expect(r.sources["server.host"]).toBe("panel");
    expect(r.config["log.level"]).toBe("error");
    expect(r.sources["log.level"]).toBe("env");
    expect(r.config["auth.quotaTokensPerDay"]).toBe(7);
  });

  it("refuses a setting the panel may not change, and a bad value, naming the file", () => {
    const bad = (panel: unknown) => {
      try {
        resolveConfig({ panel, panelPath: "/d/settings.json", cwd: "/" });
      } catch (err) {
        return err as SovereignError;
      }
      throw new Error("accepted");
    };
    const notEditable = bad({ paths: { dataDir: "/elsewhere" } });
    expect(notEditable.code).toBe("CONFIG_INVALID");
    expect(notEditable.message).toContain("paths.dataDir");
    expect(notEditable.message).toContain("/d/settings.json");
    const wrongType = bad({ log: { level: "loud" } });
    expect(wrongType.code).toBe("CONFIG_INVALID");
    expect(wrongType.message).toContain("/d/settings.json (log.level)");
  });

  it("is written atomically, mode 0600, nested like the config file; a key can be removed again", () => {
    const path = panelSettingsPath(tempDir());
    expect(readPanelSettings(path)).toBeUndefined();
    writePanelSetting(path, "server.host", "0.0.0.0");
    writePanelSetting(path, "federation.enabled", true);
    writePanelSetting(path, "federation.broker.mode", "embedded");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ federation: { broker: { mode: "embedded" }, enabled: true }, server: { host: "0.0.0.0" } });
    writePanelSetting(path, "server.host", undefined);
    expect(readPanelSettings(path)).toEqual({ federation: { broker: { mode: "embedded" }, enabled: true } });
  });

  it("is read by loadConfig from the data directory the other layers name", () => {
    const dataDir = tempDir();
    writeFileSync(panelSettingsPath(dataDir), JSON.stringify({ server: { host: "0.0.0.0" } }));
    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ server: { host: "10.1.1.1" } }));
    const r = loadConfig({ env: { SOVEREIGN_DATA_DIR: dataDir, SOVEREIGN_CONFIG: join(dataDir, "config.json") }, flags: {} });
    expect(r.panelPath).toBe(join(dataDir, "settings.json"));
    expect(r.config["server.host"]).toBe("0.0.0.0");
    expect(r.sources["server.host"]).toBe("panel");
  });
});

describe("the image opens the node to the LAN through the board layer (so the panel can still change it)", () => {
  it("sets server.host 0.0.0.0 on every board and not in the unit's environment", () => {
    for (const b of boards) {
      expect(b.runtime["server.host"], b.id).toBe("0.0.0.0");
      expect(serviceEnvironment(b).SOVEREIGN_HOST, b.id).toBeUndefined();
    }
  });
});
