import type { BoardProfile, UnlockMethod } from "../boards/BoardProfile.js";
import { abBootOf, slotDeviceLabels } from "./abLayout.js";
import { APP_DIR, CONFIG_DIR, DATA_DIR, SERVICE_USER } from "./nodePaths.js";

export { APP_DIR, CONFIG_DIR, DATA_DIR, SERVICE_USER };

/**
 * The environment sovereign.service runs with: the board selects the runtime's board layer and tuning.
 * server.host (0.0.0.0, the LAN) comes from that board layer, not from here, so that an admin can still change it in the panel.
 */
export function serviceEnvironment(board: BoardProfile, port = 8080): Record<string, string> {
  return {
    NODE_ENV: "production",
    SOVEREIGN_BOARD: board.id,
    SOVEREIGN_DATA_DIR: DATA_DIR,
    SOVEREIGN_CONFIG: `${CONFIG_DIR}/config.json`,
    SOVEREIGN_PORT: String(port),
    SOVEREIGN_LOG_FORMAT: "json",
    ...board.serviceEnv,
  };
}

/**
 * The node's unit. `ab` (the A/B layout): the update service writes the inactive slot's block device
 * and the ESP's entries, and a node that keeps failing to start hands over to sovereign-trial-guard,
 * which leaves a trial boot (image/lib/abLayout.ts).
 */
export function sovereignService(board: BoardProfile, abLayout = false): string {
  const ab = abLayout ? abBootOf(board) : null;
  const env = Object.entries(serviceEnvironment(board)).map(([k, v]) => `Environment=${k}=${v}`);
  // The Jetson's GPU nodes live in /dev; other boards need no devices, or in the A/B layout only the two slots.
  const devices = board.vendorLayer
    ? ["PrivateDevices=no"]
    : ab
      ? ["PrivateDevices=no", "DevicePolicy=closed", ...slotDeviceLabels(board).map((l) => `DeviceAllow=/dev/disk/by-partlabel/${l} rw`)]
      : ["PrivateDevices=yes"];
  const guard = ab
    ? [
        "",
        // The update service writes the ESP (a Pi's autoboot partition). It is mounted "nofail"; started before it, the sandbox would pin the
        // empty mount point (ReadWritePaths binds it) and the ESP mounted later would not show inside.
        `Wants=${ab.mountUnit}`,
        `After=${ab.mountUnit}`,
        "# Five failed starts in 10 minutes: on a trial boot the guard goes back to the old slot.",
        "StartLimitIntervalSec=600",
        "StartLimitBurst=5",
        "OnFailure=sovereign-trial-guard.service",
      ].join("\n")
    : "";
  return `[Unit]
Description=Sovereign Node
Documentation=file://${APP_DIR}/README.md
Wants=avahi-daemon.service
After=network.target sovereign-firstboot.service
ConditionPathExists=${DATA_DIR}/.firstboot-done${guard}

[Service]
Type=notify
NotifyAccess=main
User=${SERVICE_USER}
Group=${SERVICE_USER}
# "+": runs as root outside the sandbox, to cap this unit's memory from tune()'s budget (./serviceMemoryMax.ts).
ExecStartPre=-+/usr/bin/node ${APP_DIR}/dist/image/lib/serviceMemoryMax.js
ExecStart=/usr/bin/node ${APP_DIR}/bin/sovereign.js serve
${env.join("\n")}
WatchdogSec=30
Restart=on-failure
RestartSec=5
# 75: the admin pressed "Restart now" in the panel (appliance/server.ts RESTART_EXIT_CODE): a clean exit, started again.
SuccessExitStatus=75
RestartForceExitStatus=75
TimeoutStartSec=600
TimeoutStopSec=30
ProtectSystem=strict
ReadWritePaths=${DATA_DIR}${ab ? ` ${ab.dir}` : ""}
ProtectHome=yes
PrivateTmp=yes
${devices.join("\n")}
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
# Model runners each get a cgroup of their own under this service's, with
# MemoryMax from the model RAM budget: the service user may manage its
# delegated subtree (and nothing else in the cgroup tree, which root owns).
Delegate=memory pids
ProtectControlGroups=no
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictNamespaces=yes
CapabilityBoundingSet=
AmbientCapabilities=
UMask=0077
# Node, better-sqlite3, onnxruntime and llama.cpp's runners need nothing beyond the system-service set
# less the privileged calls (setuid, chown, capset…: the node changes no ownership); @resources stays, as
# runners may lower their priority. A denied call fails with EPERM and never kills the process, so a
# missing one shows up as an error in the journal rather than a dead node.
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM
SystemCallArchitectures=native
# Unix (sd_notify, journald), IPv4/IPv6 (HTTP, MQTT, mDNS through avahi's socket), netlink (os.networkInterfaces).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
ProtectClock=yes
ProtectKernelLogs=yes
ProtectHostname=yes
# Other users' processes are hidden. ProcSubset=pid would also hide /proc/cpuinfo, /proc/meminfo and
# /proc/stat, which hardware detection, tune() and os.cpus() read.
ProtectProc=invisible
RestrictRealtime=yes
RemoveIPC=yes
# MemoryDenyWriteExecute stays off: V8's JIT needs writable-executable pages.

[Install]
WantedBy=multi-user.target
`;
}

export function firstbootService(): string {
  return `[Unit]
Description=Sovereign Node first boot (new volume key, unlock method, identity, setup code)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service
Before=sovereign.service avahi-daemon.service ssh.service systemd-networkd.service
Wants=local-fs.target
ConditionPathExists=!${DATA_DIR}/.firstboot-done

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/sovereign-firstboot
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
`;
}

/** Configuration the first-boot script reads (no secrets: the build key file sits beside it, mode 0600). */
export function firstbootConfig(board: BoardProfile, unlock: UnlockMethod, opts: { keepRecoveryPassphrase: boolean; layout?: "single" | "ab"; sshHostKeyDir?: string; unlockArchive?: { path: string; home: string; keyDir: string } }): string {
  const ab = opts.layout === "ab";
  return [
    // The LUKS volume first boot re-encrypts and grows (the data partition in the A/B layout), and where its
    // build and recovery keys wait: inside it, never in a slot, which is not encrypted.
    `MAPPER=${ab ? "sovdata" : "sovroot"}`,
    `KEY_DIR=${ab ? "/data/firstboot" : CONFIG_DIR}`,
    `BOARD=${board.id}`,
    `UNLOCK=${unlock}`,
    `PBKDF_MEMORY_KIB=${board.luks.pbkdfMemoryKiB}`,
    // The device's cipher: first boot re-encrypts to it (the image may ship a build-time cipher).
    `CIPHER=${board.luks.cipher}`,
    `KEY_SIZE=${board.luks.keySize}`,
    `KEEP_RECOVERY_PASSPHRASE=${opts.keepRecoveryPassphrase ? "yes" : "no"}`,
    `DATA_DIR=${DATA_DIR}`,
    // sshd's host keys: the default paths (ssh-keygen -A), or in the A/B layout this directory on the data partition.
    ...(opts.sshHostKeyDir ? [`SSH_HOST_KEY_DIR=${opts.sshHostKeyDir}`] : []),
    // ssh unlock, A/B layout: the archive of the node's own initramfs host keys and authorized_keys on the ESP.
    ...(opts.unlockArchive ? [`UNLOCK_ARCHIVE=${opts.unlockArchive.path}`, `UNLOCK_HOME=${opts.unlockArchive.home}`, `UNLOCK_KEY_DIR=${opts.unlockArchive.keyDir}`] : []),
    `PORT=8080`,
    "",
  ].join("\n");
}

/** avahi service file: the node's HTTP endpoint, advertised as sovereign-<id>.local. */
export function avahiService(): string {
  return `<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">Sovereign Node on %h</name>
  <service>
    <type>_http._tcp</type>
    <port>8080</port>
    <txt-record>path=/</txt-record>
  </service>
  <service>
    <type>_sovereign._tcp</type>
    <port>8080</port>
  </service>
</service-group>
`;
}

/** mDNS host name: sovereign-<id>.local unless the user chose one. */
export function hostnameFor(board: BoardProfile, custom?: string): string {
  return custom ?? `sovereign-${board.id.replace(/_/g, "-")}`;
}

/**
 * DHCP on every wired and wireless interface (iwd associates, networkd
 * configures). DNS and NTP servers from DHCP go to systemd-resolved and
 * systemd-timesyncd; mDNS stays avahi's.
 */
export function networkdConfig(): string {
  return "[Match]\nName=en* eth* wl*\n\n[Network]\nDHCP=yes\nMulticastDNS=no\nLLMNR=no\nLinkLocalAddressing=yes\n\n[DHCPv4]\nUseDomains=yes\nUseDNS=yes\nUseNTP=yes\n";
}

/**
 * PID 1 pets the board's hardware watchdog (the Pi's bcm2835_wdt, Jetson's and many PCs' own, when their driver
 * loads): a hung kernel or PID 1 resets the board instead of freezing it. A reset is how a trial boot ends by
 * itself (systemd-boot counts the try, the Pi firmware falls back to [all]), and a node nobody can reach recovers.
 * RebootWatchdogSec bounds a reboot that hangs on the way down. Without a watchdog device this does nothing.
 */
export function watchdogConfig(): string {
  return "[Manager]\nRuntimeWatchdogSec=30s\nRebootWatchdogSec=5min\n";
}

/** resolved: the stub on 127.0.0.53 with the DHCP servers; avahi answers mDNS, so resolved does not. */
export function resolvedConfig(): string {
  return "[Resolve]\nMulticastDNS=no\nLLMNR=no\n";
}

/** The link every image's /etc/resolv.conf is (never the build host's file). */
export const RESOLV_CONF_LINK = "../run/systemd/resolve/stub-resolv.conf";

/**
 * iwd starts when a radio appears (a phy in the ieee80211 class, at boot or
 * when a USB dongle is plugged in), not on boards or PCs without one.
 */
export function iwdUdevRule(): string {
  return 'ACTION=="add", SUBSYSTEM=="ieee80211", TAG+="systemd", ENV{SYSTEMD_WANTS}+="iwd.service"\n';
}

/** iwd leaves addresses to systemd-networkd (one DHCP client for wired and wireless). */
export function iwdMainConfig(): string {
  return "[General]\nEnableNetworkConfiguration=false\n\n[Network]\nNameResolvingService=systemd\n";
}
