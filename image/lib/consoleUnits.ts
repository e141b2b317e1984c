import type { BoardProfile } from "../boards/BoardProfile.js";
import { APP_DIR, DATA_DIR, SERVICE_USER, serviceEnvironment } from "./units.js";

/** Where the node looks for a recovery file that a root unit copied off the boot partition. */
export const RECOVERY_DIR = `${DATA_DIR}/recovery`;

export function bootDir(board: BoardProfile): string {
  return board.boot.kind === "uefi" ? "/boot/efi" : "/boot/firmware";
}

/**
 * The console status screen at every boot: once the node is ready, `sovereign
 * node` prints its URLs, addresses, certificate fingerprint, claim state,
 * health and update slot on the console (HDMI or serial), then the setup code of an unclaimed node, where an owner
 * without a shell looks. The command runs as the service user (runuser), so it
 * never leaves files in the data directory that the node could not open; the
 * shell that writes to /dev/console is root's. A failure only means no screen
 * ("-"), never a failed unit.
 */
export function consoleStatusService(board: BoardProfile): string {
  const env = Object.entries(serviceEnvironment(board)).map(([k, v]) => `Environment=${k}=${v}`);
  return `[Unit]
Description=Sovereign Node status on the console
After=sovereign.service
Wants=sovereign.service

[Service]
Type=oneshot
${env.join("\n")}
# The setup code (only while unclaimed: the command refuses once the node is claimed) right under the
# certificate fingerprint, so the owner can check the certificate before typing the code.
ExecStart=-/bin/sh -c 'runuser -u ${SERVICE_USER} -- /usr/bin/node ${APP_DIR}/bin/sovereign.js node > /dev/console 2>&1; runuser -u ${SERVICE_USER} -- /usr/bin/node ${APP_DIR}/bin/sovereign.js setup-code > /dev/console 2>/dev/null; true'

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The boot partition is FAT and mounted root-only (umask=0077), so the node
 * cannot read a recovery file there. This root unit moves one, if present,
 * into the data directory for the service user before the node starts
 * (services/auth/physicalRecovery.ts acts on it and audits it).
 */
export function recoveryCopyService(board: BoardProfile): string {
  const src = `${bootDir(board)}/sovereign-recovery.txt`;
  return `[Unit]
Description=Sovereign Node recovery file from the boot partition
After=local-fs.target sovereign-firstboot.service
Before=sovereign.service
ConditionPathExists=${src}

[Service]
Type=oneshot
ExecStart=-/bin/sh -c 'install -d -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0700 ${RECOVERY_DIR} && install -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0600 ${src} ${RECOVERY_DIR}/ && mv ${src} ${src}.done'

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The owner's network file (SSID, passphrase, country, NTP servers; format in
 * ./wifiConfig.ts) on the root-only boot partition, imported by a root unit
 * before iwd, networkd and timesyncd start, then consumed (./wifiImport.ts).
 * Runs at every boot where the file is present, so a new file on the card
 * changes the Wi-Fi later too.
 */
export function networkImportService(board: BoardProfile): string {
  const boot = bootDir(board);
  return `[Unit]
Description=Sovereign Node network settings from the boot partition
# Early (timesyncd starts before sysinit.target): default dependencies would order this after sysinit.target
# and so after timesyncd, a cycle systemd breaks by dropping timesyncd's start.
DefaultDependencies=no
After=local-fs.target
Before=iwd.service systemd-networkd.service systemd-timesyncd.service network-pre.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target
RequiresMountsFor=${boot}
ConditionPathExists=${boot}/sovereign-network.txt

[Service]
Type=oneshot
ExecStart=/usr/bin/node ${APP_DIR}/dist/image/lib/wifiImport.js ${boot}
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`;
}
