import { describe, expect, it } from "vitest";
import { boards } from "../../image/boards/registry.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { consoleStatusService, networkImportService, recoveryCopyService, RECOVERY_DIR } from "../../image/lib/consoleUnits.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";

describe("console status screen and recovery units", () => {
  const all = [...boards];
  it("covers every board", () => expect(all.length).toBeGreaterThan(0));

  it.each(all.map((b) => [b.id, b] as const))("%s: the status screen runs sovereign node as the service user and never fails the boot", (_id, board) => {
    const unit = consoleStatusService(board);
    expect(unit).toMatch(/^After=sovereign\.service$/m);
    expect(unit).toMatch(/^ExecStart=-\/bin\/sh -c 'runuser -u sovereign -- \/usr\/bin\/node \/opt\/sovereign\/bin\/sovereign\.js node > \/dev\/console 2>&1; /m);
    // The setup code follows the certificate fingerprint (only while unclaimed), and the unit never fails.
    expect(unit).toMatch(/node > \/dev\/console 2>&1; runuser -u sovereign -- \/usr\/bin\/node \/opt\/sovereign\/bin\/sovereign\.js setup-code > \/dev\/console 2>\/dev\/null; true'$/m);
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

  it.each(all.map((b) => [b.id, b] as const))("%s: the boot partition's network file is imported before iwd, networkd and timesyncd start", (_id, board) => {
    const unit = networkImportService(board);
    const bootDir = board.boot.kind === "uefi" ? "/boot/efi" : "/boot/firmware";
    expect(unit).toMatch(new RegExp(`^ConditionPathExists=${bootDir}/sovereign-network\\.txt$`, "m"));
    expect(unit).toMatch(/^Before=iwd\.service systemd-networkd\.service systemd-timesyncd\.service network-pre\.target shutdown\.target$/m);
    // timesyncd is ordered before sysinit.target: with default dependencies (after sysinit) this unit would
    // form a cycle with it, and systemd would drop timesyncd (seen in the booted image).
    expect(unit).toMatch(/^DefaultDependencies=no$/m);
    expect(unit).toMatch(/^After=local-fs\.target$/m);
    expect(unit).toMatch(new RegExp(`^ExecStart=/usr/bin/node /opt/sovereign/dist/image/lib/wifiImport\\.js ${bootDir}$`, "m"));
    // The compiled path the unit runs is the import's source, compiled into the runtime's dist/.
    expect(existsSync(join(import.meta.dirname, "../../image/lib/wifiImport.ts"))).toBe(true);
  });

  it.each(all.map((b) => [b.id] as const))("%s: the node on the image reads that folder and serves Ollama's port", (id) => {
    const { config, sources } = resolveConfig({ env: { SOVEREIGN_BOARD: id }, cwd: "/" });
    expect(config["auth.recoveryDirs"]).toEqual([RECOVERY_DIR]);
    expect(config["ollama.port"]).toBe(11434);
    expect(config["server.host"]).toBe("0.0.0.0");
    expect(sources["ollama.port"]).toBe("board");
  });
});
