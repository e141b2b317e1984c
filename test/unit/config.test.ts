import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { renderConfigDocs } from "../../appliance/config/renderConfigDocs.js";
import { settings } from "../../appliance/config/settings.js";
import { SovereignError } from "../../core/errors/SovereignError.js";

function configError(fn: () => unknown): SovereignError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SovereignError);
    return err as SovereignError;
  }
  throw new Error("expected a config error");
}

describe("config layers", () => {
  it("uses defaults when nothing is set, resolving the data dir against cwd", () => {
    const { config, sources } = resolveConfig({ env: {}, cwd: "/srv/x" });
    expect(config["server.port"]).toBe(8080);
    expect(config["server.host"]).toBe("127.0.0.1");
    expect(config["paths.dataDir"]).toBe("/srv/x/data");
    expect(config["tuning.generationThreads"]).toBeNull();
    expect(sources["server.port"]).toBe("default");
  });

  it("applies board → file → env → flags, later layers winning", () => {
    const file = { node: { board: "rpi4" }, server: { port: 9000 }, tuning: { sqliteCacheMb: 8 } };
    const base = resolveConfig({ file, env: {}, cwd: "/" });
    // Board layer: rpi4 serves the LAN and keeps data in /var/lib/sovereign.
    expect(base.config["server.host"]).toBe("0.0.0.0");
    expect(base.sources["server.host"]).toBe("board");
    expect(base.config["paths.dataDir"]).toBe("/var/lib/sovereign");
    // The file beats the board's own sqlite cache default.
    expect(base.config["tuning.sqliteCacheMb"]).toBe(8);
    expect(base.config["server.port"]).toBe(9000);

    const env = resolveConfig({ file, env: { SOVEREIGN_PORT: "9100", SOVEREIGN_HOST: "10.0.0.2" }, cwd: "/" });
    expect(env.config["server.port"]).toBe(9100);
    expect(env.sources["server.port"]).toBe("env");

    const flags = resolveConfig({ file, env: { SOVEREIGN_PORT: "9100" }, flags: { "server.port": "9200" }, cwd: "/" });
    expect(flags.config["server.port"]).toBe(9200);
    expect(flags.sources["server.port"]).toBe("flag");
    expect(flags.config["server.host"]).toBe("0.0.0.0");
  });

  it("lets env name the board whose defaults apply", () => {
    const { config } = resolveConfig({ env: { SOVEREIGN_BOARD: "rpi4" }, cwd: "/" });
    expect(config["tuning.sqliteCacheMb"]).toBe(16);
  });

  it("parses auto, lists and booleans from strings", () => {
    const { config } = resolveConfig({
      env: { SOVEREIGN_GENERATION_THREADS: "auto", SOVEREIGN_PROMPT_THREADS: "2", SOVEREIGN_ALLOWED_HOSTS: "node.lan, box.home" },
      cwd: "/",
    });
    expect(config["tuning.generationThreads"]).toBeNull();
    expect(config["tuning.promptThreads"]).toBe(2);
    expect(config["server.allowedHosts"]).toEqual(["node.lan", "box.home"]);
  });

  it("returns a frozen object", () => {
    const { config } = resolveConfig({ env: {}, cwd: "/" });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config["server.allowedHosts"])).toBe(true);
  });
});

describe("invalid config", () => {
  it("names the setting, the source and the accepted values", () => {
    const err = configError(() => resolveConfig({ env: { SOVEREIGN_PORT: "eighty" }, cwd: "/" }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain("server.port");
    expect(err.message).toContain("SOVEREIGN_PORT");
    expect(err.message).toContain("an integer from 0 to 65535");
  });

  it("refuses out-of-range numbers, fractions and unknown enum values", () => {
    expect(configError(() => resolveConfig({ flags: { "server.port": "70000" }, env: {} })).message).toContain("--port");
    expect(configError(() => resolveConfig({ flags: { "tuning.promptThreads": "1.5" }, env: {} })).message).toContain("tuning.promptThreads");
    const e = configError(() => resolveConfig({ env: { SOVEREIGN_LOG_LEVEL: "loud" } }));
    expect(e.message).toContain('one of "fatal", "error"');
  });

  it("refuses unknown keys in the file so typos do not pass silently", () => {
    const err = configError(() => resolveConfig({ file: { server: { prot: 1 } }, filePath: "/etc/sovereign/config.json", env: {} }));
    expect(err.message).toContain('Unknown setting "server.prot"');
    expect(err.message).toContain("/etc/sovereign/config.json");
  });

  it("refuses wrongly typed file values", () => {
    const err = configError(() => resolveConfig({ file: { server: { port: "8080" } }, env: {} }));
    expect(err.message).toContain("server.port");
    const list = configError(() => resolveConfig({ file: { server: { allowedHosts: [1, 2] } }, env: {} }));
    expect(list.message).toContain("list of strings");
  });

  it("refuses an unknown board", () => {
    const err = configError(() => resolveConfig({ env: { SOVEREIGN_BOARD: "pi9" } }));
    expect(err.message).toContain("node.board");
    expect(err.message).toContain('"rpi4"');
  });
});

describe("settings table", () => {
  it("declares each key, env var and flag once", () => {
    expect(settings.length).toBeGreaterThan(20);
    for (const field of ["key", "env", "flag"] as const) {
      const values = settings.map((s) => s[field]);
      expect(new Set(values).size, `duplicate ${field}`).toBe(values.length);
    }
    for (const s of settings) {
      expect(s.env).toMatch(/^SOVEREIGN_[A-Z0-9_]+$/);
      expect(s.flag).toMatch(/^--[a-z0-9-]+$/);
      expect(s.help.length).toBeGreaterThan(10);
    }
  });

  it("has docs/config.md generated from the current table", () => {
    const committed = readFileSync(join(import.meta.dirname, "..", "..", "docs", "config.md"), "utf8");
    expect(committed, "run `npm run docs`").toBe(renderConfigDocs());
  });
});
