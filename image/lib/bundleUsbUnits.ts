import type { BoardProfile } from "../boards/BoardProfile.js";
import { serviceEnvironment } from "./units.js";

/**
 * The SOVUPDATE stick, noticed at boot and on hotplug: a udev rule that asks
 * systemd for the service when a file system with that label appears, and the
 * service that runs `sovereign update usb`. Text only; the image layout step
 * installs them (not yet wired into the build).
 */
export function usbUpdateRule(): string {
  return 'ACTION=="add", SUBSYSTEM=="block", ENV{ID_FS_LABEL}=="SOVUPDATE", TAG+="systemd", ENV{SYSTEMD_WANTS}+="sovereign-usb-update.service"\n';
}

/** Runs as root (it mounts the stick and writes the slot) with the node's own environment, so it sees the same data dir, board and config. */
export function usbUpdateService(board: BoardProfile): string {
  const env = Object.entries(serviceEnvironment(board)).map(([k, v]) => `Environment=${k}=${v}`);
  return [
    "[Unit]",
    "Description=Apply a Sovereign update bundle from a USB stick labelled SOVUPDATE",
    "After=sovereign.service",
    // At boot the stick may be there before udev's event reaches systemd: the unit is also wanted by multi-user.target.
    "ConditionPathExists=/dev/disk/by-label/SOVUPDATE",
    "",
    "[Service]",
    "Type=oneshot",
    ...env,
    "ExecStart=/usr/local/bin/sovereign update usb --json",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
