import { describe, expect, it } from "vitest";
import { boards } from "../../image/boards/registry.js";
import { consoleStatusService, recoveryCopyService, RECOVERY_DIR } from "../../image/lib/consoleUnits.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";

describe("console status screen and recovery units", () => {
  const all = [...boards];
  it("covers every board", () => expect(all.length).toBeGreaterThan(0));

  it.each(all.map((b) => [b.id, b] as const))("%s: the status screen runs sovereign node as the service user and never fails the boot", (_id, board) => {
    const unit = consoleStatusService(board);
    expect(unit).toMatch(/^After=sovereign\.service$/m);
    expect(unit).toMatch(/^ExecStart=-\/bin\/sh -c 'runuser -u sovereign -- \/usr\/bin\/node \/opt\/sovereign\/bin\/sovereign\.js node > \/dev\/console 2>&1'$/m);
    expect(unit).toMatch(new RegExp(`^Environment=SOVEREIGN_BOARD=${board.id}$`, "m"));
  });

  it.each(all.map((b) => [b.id, b] as const))("%s: a recovery file on the boot partition reaches the node before it starts", (_id, board) => {
    const unit = recoveryCopyService(board);
    const bootDir = board.boot.kind === "uefi" ? "/boot/efi" : "/boot/firmware";
    expect(unit).toMatch(new RegExp(`^ConditionPathExists=${bootDir}/sovereign-recovery\\.txt$`, "m"));
    expect(unit).toMatch(/^Before=sovereign\.service$/m);
    expect(unit).toContain(`install -o sovereign -g sovereign -m 0600 ${bootDir}/sovereign-recovery.txt ${RECOVERY_DIR}/`);
    expect(unit).toMatch(/^ExecStart=-/m);
  });

  it.each(all.map((b) => [b.id] as const))("%s: the node on the image reads that folder and serves Ollama's port", (id) => {
    const { config, sources } = resolveConfig({ env: { SOVEREIGN_BOARD: id }, cwd: "/" });
    expect(config["auth.recoveryDirs"]).toEqual([RECOVERY_DIR]);
    expect(config["ollama.port"]).toBe(11434);
    expect(config["server.host"]).toBe("0.0.0.0");
    expect(sources["ollama.port"]).toBe("board");
  });
});
