import { autobootTxt, BOOT_FAILURE_NOTE, givenUpLine, slotRootArgs, TRYBOOT_PARTITIONS, VERITY_MAPPER, withSlotRoot, type Slot, type SlotVerity } from "../../core/bootSelection.js";
import type { BoardProfile } from "../boards/BoardProfile.js";
import { BOOT_PARTITION_MODULES } from "./initrdModules.js";
import { AUTOBOOT_PARTLABEL, DATA_PARTLABEL, ESP_PARTLABEL, SLOT_BOOT_PARTLABEL, SLOT_PARTLABEL } from "./sfdisk.js";
import { DATA_DIR, SERVICE_USER } from "./nodePaths.js";
import { REGDOM_CONF, TIMESYNCD_CONF } from "./wifiImport.js";

/**
 * The A/B layout (`--layout ab`): the ESP, two system slots and a LUKS2 data
 * partition. Text and constants only; the steps write them.
 *
 * The slots hold the OS and the runtime, the same bytes on every node of a
 * version, so they are plain ext4 an update writes whole. Everything that is
 * the node's own lives on the data partition and is bind-mounted over the
 * slot's path by the initramfs, before systemd starts (machine-id is read by
 * PID 1 itself). The one unlock per boot opens only the data partition.
 */
export type ImageLayout = "single" | "ab";

/** The dm name of the unlocked data partition. */
export const DATA_MAPPER = "sovdata";
/** Where the data partition is mounted in every slot. */
export const DATA_MOUNT = "/data";
/** Where the RAM layer over a verity slot lives (a tmpfs under /run, which the initramfs hands to the system). */
export const ROOT_OVERLAY_DIR = "/run/sovereign-root";

/** On the data partition: the tree mirrored onto the slot's paths. */
export const STATE_DIR = "state";
/** On the data partition: the build key, recovery key and setup code, until first boot uses them (never in a slot, which is not encrypted). */
export const FIRSTBOOT_DIR = "firstboot";

/**
 * The node's own settings that live in /etc, on the data partition: what the owner's network file set
 * (reached through NODE_ETC_LINKS) and sshd's host keys. Root's, not the service user's.
 */
export const NODE_ETC = "/etc/sovereign/node";

/** What is the node's own: bind-mounted from /data/state<path> over <path>. */
export const STATE_PATHS: readonly { path: string; kind: "dir" | "file" }[] = [
  { path: DATA_DIR, kind: "dir" },
  { path: "/etc/machine-id", kind: "file" },
  // The journal survives an update and a rollback, so the old slot can show why the new one failed.
  { path: "/var/log/journal", kind: "dir" },
  // Wi-Fi networks (the imported network file's, and any iwd learns): a node on Wi-Fi stays on it after an update.
  { path: "/var/lib/iwd", kind: "dir" },
  { path: NODE_ETC, kind: "dir" },
];

/**
 * Files in directories the slot's packages also use (so the directory itself cannot be bound): each is a
 * symlink in the slot to a file in NODE_ETC. The network import writes through the link (wifiImport.ts).
 */
export const NODE_ETC_LINKS: Readonly<Record<string, string>> = {
  [`/${TIMESYNCD_CONF}`]: `${NODE_ETC}/timesyncd.conf`,
  [`/${REGDOM_CONF}`]: `${NODE_ETC}/modprobe-wifi.conf`,
};

/** Where sshd's host keys live in the A/B layout (an sshd_config.d drop-in names them; first boot makes them). */
export const SSH_HOST_KEY_DIR = `${NODE_ETC}/ssh`;
export const SSH_HOST_KEY_TYPES = ["ed25519", "ecdsa", "rsa"] as const;

/** sshd_config.d drop-in: the host keys from the data partition, so they stay the node's across updates. */
export function sshdHostKeysConf(): string {
  return [
    "# Sovereign A/B layout: this node's host keys are on the data partition (image/lib/abLayout.ts).",
    ...SSH_HOST_KEY_TYPES.map((t) => `HostKey ${SSH_HOST_KEY_DIR}/ssh_host_${t}_key`),
    "",
  ].join("\n");
}

/**
 * ssh unlock: the node's own initramfs ssh host keys and authorized_keys, as a cpio archive on the ESP that
 * every slot's entry loads after the slot's initrd (the kernel unpacks archives in order, later files
 * replacing earlier ones). A slot written from a bundle carries the bundle build's dropbear keys and
 * authorized_keys; with this archive its trial boot still shows the node's host key and lets in its owner.
 * First boot writes it; the build leaves an empty archive, so the entry loads from the first boot on.
 */
export const NODE_UNLOCK_CPIO = "/sovereign/node-unlock.cpio";
/** Where first boot keeps the device's dropbear host keys and the owner's authorized_keys the archive is made from. */
export const NODE_UNLOCK_KEY_DIR = `${NODE_ETC}/dropbear`;
/** ~root in the archive: it replaces the initrd's /etc/passwd (dropbear's hook names a random directory). */
export const NODE_UNLOCK_HOME = "/root-sovereign";

/** A cpio (newc) archive holding no file, only the trailer: what the kernel unpacks as nothing. */
export function emptyCpio(): Buffer {
  const name = "TRAILER!!!\0";
  // magic, then 13 eight-digit hex fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
  const fields = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, name.length, 0].map((n) => n.toString(16).padStart(8, "0")).join("");
  const head = `070701${fields}${name}`;
  const padded = head + "\0".repeat((4 - (head.length % 4)) % 4);
  // Padded to 512 bytes, as cpio itself writes it.
  return Buffer.concat([Buffer.from(padded, "latin1"), Buffer.alloc((512 - (padded.length % 512)) % 512)]);
}

/**
 * A slot's own kernel options as the boot partition step writes them, before the root filesystem exists: by GPT
 * name. The verity step puts the slot's root hash in (core/bootSelection.ts withSlotRoot).
 */
export function slotCmdline(slot: Slot): string[] {
  return slotRootArgs(slot, null);
}

/** How big each slot is: room for later versions to grow past this one's root filesystem. */
export function slotBytesFor(rootFsBytes: number): number {
  const MiB = 1024 * 1024;
  return Math.ceil(Math.max(rootFsBytes * 1.5, rootFsBytes + 512 * MiB) / MiB) * MiB;
}

/** What every initramfs-tools script and hook starts with: no prerequisites, and the `prereqs` call answered. */
const INITRAMFS_PREREQS = ['PREREQ=""', 'prereqs() { echo "$PREREQ"; }', 'case "$1" in prereqs) prereqs; exit 0 ;; esac'];
/** In dracut's systemd initrd a script's panic fails its unit (the unit decides what follows), with the reason in the journal. */
const DRACUT_PANIC = 'panic() { echo "$*" > /dev/kmsg; echo "$*" >&2; exit 1; }';

/**
 * initramfs-tools local-bottom script (or, for dracut, sovereign-data.service's): root (a slot) is mounted at
 * ${rootmnt}; cryptroot has opened the data partition (crypttab's
 * `initramfs` option). Mount it and bind the node's own paths over the
 * slot's, so PID 1 starts with them. A missing data partition is a panic:
 * booting without it would start a fresh node with a new identity.
 */
export function dataMountScript(generator: "initramfs-tools" | "dracut" = "initramfs-tools"): string {
  const binds = STATE_PATHS.map((p) => `bind ${p.kind} ${p.path}`).join("\n");
  const touches = Object.values(NODE_ETC_LINKS).map((t) => `[ -e "\${rootmnt}${DATA_MOUNT}/${STATE_DIR}${t}" ] || : > "\${rootmnt}${DATA_MOUNT}/${STATE_DIR}${t}"`).join("\n");
  // initramfs-tools: a local-bottom script with its helpers. dracut (tpm2): run by sovereign-data.service in the
  // systemd initrd, with root at /sysroot; a failure fails initrd.target, which drops to the emergency shell.
  const head =
    generator === "dracut"
      ? ["rootmnt=/sysroot", DRACUT_PANIC, 'log_warning_msg() { echo "$*" > /dev/kmsg; }']
      : [...INITRAMFS_PREREQS, ". /scripts/functions"];
  return `#!/bin/sh
# Sovereign A/B layout: mount the data partition and bind the node's own paths over the slot's (image/lib/abLayout.ts).
${head.join("\n")}
# A verity slot is mounted read-only: the running system writes to RAM above it, and the node's own paths
# are bound from the data partition below, on top of that.
verity=""
case " $(cat /proc/cmdline) " in *" sovereign.roothash="*) verity=y ;; esac
if [ -n "$verity" ] && [ -b /dev/mapper/${VERITY_MAPPER} ]; then
  ov=${ROOT_OVERLAY_DIR}
  mkdir -p "$ov"
  mount -t tmpfs -o mode=0755,size=25% sovereign-rw "$ov" || panic "sovereign: cannot make the RAM layer over the slot"
  mkdir -p "$ov/upper" "$ov/work"
  mount -t overlay -o "lowerdir=\${rootmnt},upperdir=$ov/upper,workdir=$ov/work" sovereign-root "\${rootmnt}" || panic "sovereign: cannot put the RAM layer over the read-only slot"
fi
DEV=/dev/mapper/${DATA_MAPPER}
[ -b "$DEV" ] || panic "sovereign: the data partition is not unlocked ($DEV missing)"
mount -t ext4 -o rw,noatime "$DEV" "\${rootmnt}${DATA_MOUNT}" || panic "sovereign: cannot mount the data partition"
bind() {
  src="\${rootmnt}${DATA_MOUNT}/${STATE_DIR}$2"
  if [ ! -e "$src" ]; then
    if [ "$1" = dir ]; then mkdir -p "$src"; else mkdir -p "\${src%/*}"; : > "$src"; fi
  fi
  [ -e "\${rootmnt}$2" ] || { log_warning_msg "sovereign: $2 is missing in this slot; not bound"; return 0; }
  mount -o bind "$src" "\${rootmnt}$2" || panic "sovereign: cannot bind $2 from the data partition"
}
# PID 1 would otherwise treat an empty machine-id as a first boot on every boot, and its transient id
# cannot be committed through the bind mount: the device's id is made here once, on the data partition.
mid="\${rootmnt}${DATA_MOUNT}/${STATE_DIR}/etc/machine-id"
cur=""
[ -f "$mid" ] && read -r cur < "$mid"
if [ \${#cur} -ne 32 ]; then
  mkdir -p "\${mid%/*}"
  IFS=- read -r a b c d e < /proc/sys/kernel/random/uuid
  echo "$a$b$c$d$e" > "$mid"
fi
${binds}
# The targets of the slot's links into ${NODE_ETC} exist, empty until the network file sets them: a dangling
# link in modprobe.d or timesyncd.conf.d is an error at every read.
${touches}
exit 0
`;
}

/**
 * Shell for verityOpenScript: `give_up "<why>"` when the committed slot the boot started does not verify. It marks
 * the slot given up on the boot partition, so the next boot starts the other slot, leaves BOOT_FAILURE_NOTE for the
 * update service, and panics (which reboots). It falls back only to a slot that was not given up itself, and
 * leaves a trial alone: its own boot counting (systemd-boot's tries, the firmware's one tryboot) already ends it.
 */
export function giveUpShell(boot: Pick<AbBoot, "method" | "partlabel">, when: "boot" | "running" = "boot"): string {
  const switchSlot =
    boot.method === "systemd-boot"
      ? `switch_slot() {
  d="$1/loader/entries"
  # A counted entry is a trial: systemd-boot counts its failed boots down and then starts the other slot.
  [ -f "$d/sovereign-$slot.conf" ] || { why_not="slot $slot is on trial; systemd-boot ends it"; trial=y; return 1; }
  good=""
  for e in "$d"/sovereign-$other.conf "$d"/sovereign-$other+*.conf; do
    [ -f "$e" ] || continue
    n=\${e##*/sovereign-$other}
    case "\${n%.conf}" in ""|+[1-9]*) good=y ;; esac
  done
  [ -n "$good" ] || { why_not="slot $other has no entry that was not given up"; return 1; }
  # What systemd-boot leaves for a slot whose tries ran out: it sorts last, and the other slot boots.
  mv "$d/sovereign-$slot.conf" "$d/sovereign-$slot+0-1.conf"
}`
      : `switch_slot() {
  f="$1/autoboot.txt"
  [ -f "$f" ] || { why_not="no autoboot.txt"; return 1; }
  sec=""; all=""
  while read -r line; do
    case "$line" in
      "[all]") sec=all ;;
      "["*) sec=other ;;
      boot_partition=*) [ "$sec" = all ] && all=\${line#boot_partition=} ;;
      "${givenUpLine("$other")}") why_not="slot $other was given up"; return 1 ;;
    esac
  done < "$f"
  # Started by tryboot (a trial): the next plain boot is the committed slot already.
  [ "$all" = "$me" ] || { why_not="slot $slot is on trial; a plain reboot ends it"; trial=y; return 1; }
  case "$other" in
${(["a", "b"] as const).map((o) => `    ${o}) cat > "$f.new" <<'EOF'\n${autobootTxt(o, o, o === "a" ? "b" : "a")}EOF\n    ;;`).join("\n")}
  esac
  mv "$f.new" "$f"
}`;
  return `${switchSlot}
give_up() {
  why_not=""; trial=""
  case "$slot" in a) other=b; me=${TRYBOOT_PARTITIONS.a} ;; *) other=a; me=${TRYBOOT_PARTITIONS.b} ;; esac
  mnt=\${SOVEREIGN_BOOT_MNT:-/run/sovereign-bootpart}
  mkdir -p "$mnt"
  for m in ${BOOT_PARTITION_MODULES.join(" ")}; do modprobe -q "$m" 2>/dev/null || true; done
  if mount -t vfat -o rw /dev/disk/by-partlabel/${boot.partlabel} "$mnt"; then
    if switch_slot "$mnt"; then
      printf 'slot=%s\\nreason=%s\\n${when === "running" ? "when=running\\n" : ""}' "$slot" "$1" > "$mnt/${BOOT_FAILURE_NOTE}"
      sync
      umount "$mnt"
      ${when === "running" ? "given_up" : "panic"} "sovereign: slot $slot $1; it is given up, and the next boot starts slot $other"
    fi
    umount "$mnt"
  else
    why_not="the boot partition (${boot.partlabel}) did not mount"
  fi
  ${when === "running" ? "no_fallback" : "panic"} "sovereign: slot $slot $1; no fallback: $why_not"
}`;
}

/** The watcher's script (verityWatchScript) and unit. */
export const VERITY_WATCH_SCRIPT = "/usr/local/sbin/sovereign-verity-watch";

/**
 * The running system's half of the check verityOpenScript starts: the initramfs reads a slot's first MiB, so a
 * block changed deeper (bad flash, a stray write) is found only when something reads it, as a read error the node
 * may not survive. dm-verity then shows `C` in its status. The committed slot is then given up as the initramfs
 * would (giveUpShell, the note saying "while it ran") and the node reboots into the other slot. A trial is
 * rebooted too (its boot counting ends it, before the health gate can commit it). A committed slot with no slot to
 * fall back to stays up and says so in the journal, since a reboot would only come back to the same blocks.
 */
export function verityWatchScript(boot: Pick<AbBoot, "method" | "partlabel">, o: { cmdline?: string; kmsg?: string; intervalSeconds?: number } = {}): string {
  return `#!/bin/sh
# Sovereign A/B layout: give up the booted slot when dm-verity finds a changed block while it runs (image/lib/abLayout.ts).
# <3>: an error, so the console shows it under \`quiet\`.
say() { echo "<3>$*" > ${o.kmsg ?? "/dev/kmsg"} 2>/dev/null || true; echo "$*"; }
given_up() { say "$*"; sync; systemctl reboot; exit 0; }
# A trial is rebooted, so its boot counting ends it; a committed slot with nothing to fall back to stays up.
no_fallback() { say "$*"; [ -z "$trial" ] || { sync; systemctl reboot; }; exit 0; }
panic() { say "$*"; exit 1; }
slot=""
for arg in $(cat ${o.cmdline ?? "/proc/cmdline"}); do
  case "$arg" in sovereign.slot=*) slot=\${arg#*=} ;; esac
done
[ -n "$slot" ] || exit 0
# Not opened through dm-verity (a slot written before verity): nothing to watch.
dmsetup status ${VERITY_MAPPER} >/dev/null 2>&1 || exit 0
${giveUpShell(boot, "running")}
while :; do
  case "$(dmsetup status ${VERITY_MAPPER} 2>/dev/null)" in
    *" verity C"*) give_up "had a block that does not match its signed root hash (dm-verity, on a read)" ;;
  esac
  sleep ${o.intervalSeconds ?? 30}
done
`;
}

export function verityWatchService(): string {
  return [
    "[Unit]",
    "Description=Sovereign: give up this slot when dm-verity finds a changed block",
    "ConditionKernelCommandLine=sovereign.roothash",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${VERITY_WATCH_SCRIPT}`,
    "Restart=on-failure",
    "RestartSec=30",
    "Nice=10",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * initramfs-tools local-top script (or, for dracut, sovereign-verity.service's): when the command line names a
 * root hash, open the booted slot through dm-verity as /dev/mapper/${VERITY_MAPPER}, which `root=` names. Every
 * block read from it is then checked against the signed root hash; a changed block is a read error. The script
 * reads the filesystem's first MiB (superblock and group descriptors, what the mount reads first): a slot that
 * fails there is given up if it was the committed one (giveUpShell) and the next boot starts the other slot;
 * a trial just reboots, which ends it. Without a root hash (a bundle from before verity) it does nothing and
 * `root=` names the slot's partition.
 */
export function verityOpenScript(boot: Pick<AbBoot, "method" | "partlabel">, generator: "initramfs-tools" | "dracut" = "initramfs-tools"): string {
  const head =
    generator === "dracut"
      ? [DRACUT_PANIC]
      : [...INITRAMFS_PREREQS, ". /scripts/functions"];
  return `#!/bin/sh
# Sovereign A/B layout: open the booted slot through dm-verity (image/lib/abLayout.ts).
${head.join("\n")}
hash=""; offset=""; slot=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    sovereign.roothash=*) hash=\${arg#*=} ;;
    sovereign.hashoffset=*) offset=\${arg#*=} ;;
    sovereign.slot=*) slot=\${arg#*=} ;;
  esac
done
[ -n "$hash" ] || exit 0
[ -b /dev/mapper/${VERITY_MAPPER} ] && exit 0
[ -n "$offset" ] && [ -n "$slot" ] || panic "sovereign: sovereign.roothash needs sovereign.hashoffset and sovereign.slot"
${giveUpShell(boot)}
dev=/dev/disk/by-partlabel/sovereign-root-$slot
# A USB disk can take a while to appear (initramfs-tools waits up to 180 s for root by default).
i=0
while [ ! -b "$dev" ]; do
  [ $i -ge 180 ] && panic "sovereign: slot $slot ($dev) did not appear"
  sleep 1
  i=$((i + 1))
done
modprobe -q dm_verity 2>/dev/null || true
veritysetup open "$dev" ${VERITY_MAPPER} "$dev" "$hash" --hash-offset="$offset" || give_up "does not match its signed root hash (veritysetup open failed)"
dd if=/dev/mapper/${VERITY_MAPPER} of=/dev/null bs=65536 count=16 2>/dev/null || { veritysetup close ${VERITY_MAPPER} 2>/dev/null; give_up "does not match its signed root hash (dm-verity refused its first blocks)"; }
echo "sovereign: slot $slot opened read-only through dm-verity" > /dev/kmsg 2>/dev/null || true
exit 0
`;
}

/** initramfs-tools hook: veritysetup, dm-verity and overlayfs in the initramfs, for verityOpenScript and the RAM layer. */
export function verityInitramfsHook(): string {
  return [
    "#!/bin/sh",
    "# Sovereign A/B layout: what opens a verity slot and layers RAM over it (image/lib/abLayout.ts).",
    ...INITRAMFS_PREREQS,
    ". /usr/share/initramfs-tools/hook-functions",
    "copy_exec /usr/sbin/veritysetup /sbin",
    // vfat and its code pages: a slot that does not verify is given up on the boot partition (giveUpShell).
    `manual_add_modules dm-verity overlay ${BOOT_PARTITION_MODULES.join(" ")}`,
    "",
  ].join("\n");
}

/**
 * The dracut module (tpm2 images) that runs dataMountScript in the systemd initrd: after root is mounted and
 * systemd-cryptsetup has opened the data partition (rd.luks.name names it), before the switch to the slot.
 */
export function dracutDataModule(boot: Pick<AbBoot, "method" | "partlabel">): Record<string, { text: string; mode: number }> {
  const dir = "usr/lib/dracut/modules.d/90sovereign-data";
  return {
    [`${dir}/module-setup.sh`]: {
      mode: 0o755,
      text: [
        "#!/bin/bash",
        "# Sovereign A/B layout: mount the data partition before the switch to the slot (image/lib/abLayout.ts).",
        "check() { return 0; }",
        "depends() { echo systemd; }",
        `installkernel() { instmods dm-verity overlay ${BOOT_PARTITION_MODULES.join(" ")}; }`,
        "install() {",
        '  inst_script "$moddir/sovereign-data.sh" /usr/sbin/sovereign-data-mount',
        '  inst_script "$moddir/sovereign-verity.sh" /usr/sbin/sovereign-verity-open',
        '  inst_simple "$moddir/sovereign-data.service" "$systemdsystemunitdir/sovereign-data.service"',
        '  inst_simple "$moddir/sovereign-verity.service" "$systemdsystemunitdir/sovereign-verity.service"',
        '  inst_multiple mount umount mkdir cat sleep modprobe veritysetup dd mv sync',
        '  mkdir -p "$initdir$systemdsystemunitdir/initrd.target.requires"',
        '  ln -sf ../sovereign-data.service "$initdir$systemdsystemunitdir/initrd.target.requires/sovereign-data.service"',
        '  ln -sf ../sovereign-verity.service "$initdir$systemdsystemunitdir/initrd.target.requires/sovereign-verity.service"',
        "}",
        "",
      ].join("\n"),
    },
    [`${dir}/sovereign-data.service`]: {
      mode: 0o644,
      text: [
        "[Unit]",
        "Description=Sovereign: mount the data partition and bind the node's own paths over the slot",
        "DefaultDependencies=no",
        `Wants=systemd-cryptsetup@${DATA_MAPPER}.service`,
        `After=systemd-cryptsetup@${DATA_MAPPER}.service sysroot.mount`,
        "Requires=sysroot.mount",
        "Before=initrd.target initrd-switch-root.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/usr/sbin/sovereign-data-mount",
        "",
      ].join("\n"),
    },
    [`${dir}/sovereign-data.sh`]: { mode: 0o755, text: dataMountScript("dracut") },
    [`${dir}/sovereign-verity.service`]: {
      mode: 0o644,
      text: [
        "[Unit]",
        "Description=Sovereign: open the booted slot through dm-verity",
        "DefaultDependencies=no",
        "ConditionKernelCommandLine=sovereign.roothash",
        "After=systemd-udev-trigger.service",
        "Wants=systemd-udev-trigger.service",
        // root= names the device this makes; a slot that does not verify reboots, which ends a trial boot.
        "Before=sysroot.mount initrd-root-device.target",
        "FailureAction=reboot",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/usr/sbin/sovereign-verity-open",
        "",
      ].join("\n"),
    },
    [`${dir}/sovereign-verity.sh`]: { mode: 0o755, text: verityOpenScript(boot, "dracut") },
  };
}

/**
 * What a board boots from in the A/B layout. UEFI: the ESP at /boot/efi holds both slots' kernels and
 * systemd-boot's counted entries. Raspberry Pi: partition 1 (at /boot/firmware) holds autoboot.txt, which
 * names the firmware's boot partition and its one-shot tryboot partition; each slot has its own.
 */
export interface AbBoot {
  method: "systemd-boot" | "tryboot";
  /** Where the boot partition the update service arms is mounted. */
  dir: string;
  /** Its systemd mount unit (the node's sandbox must start after it). */
  mountUnit: string;
  /** Its GPT name, which fstab mounts it by. */
  partlabel: string;
  /** Raspberry Pi: each slot's own boot partition, which an update writes whole; null on UEFI. */
  slotBoot: Readonly<Record<Slot, string>> | null;
}

export function abBootOf(board: BoardProfile): AbBoot {
  if (board.boot.kind === "raspberrypi") return { method: "tryboot", dir: "/boot/firmware", mountUnit: "boot-firmware.mount", partlabel: AUTOBOOT_PARTLABEL, slotBoot: SLOT_BOOT_PARTLABEL };
  return { method: "systemd-boot", dir: "/boot/efi", mountUnit: "boot-efi.mount", partlabel: ESP_PARTLABEL, slotBoot: null };
}

/** The Raspberry Pi A/B layout's autoboot partition: a FAT16 that holds autoboot.txt and the owner's files. */
export const AUTOBOOT_MIB = 32;

/** The autoboot.txt a Pi A/B image is built with: slot A's boot partition, and no trial armed. */
export function initialAutobootTxt(): string {
  return autobootTxt("a", "a");
}

/**
 * A Pi slot's config.txt: one boot partition image serves either slot, so a bundle is slot-agnostic.
 * The firmware's [boot_partition=N] filter picks the command line that names the slot it booted from.
 */
export function slotConfigTxt(configTxt: string): string {
  return [
    configTxt.trimEnd(),
    "",
    "# Sovereign A/B layout (image/lib/abLayout.ts): the command line of the slot this partition boots as.",
    ...(Object.entries(TRYBOOT_PARTITIONS) as [Slot, number][]).flatMap(([slot, n]) => [`[boot_partition=${n}]`, `cmdline=cmdline-${slot}.txt`]),
    "[all]",
    "",
  ].join("\n");
}

/** A Pi slot's cmdline: raspi-firmware's, with the slot and its root (through verity once it is known) named. */
export function slotPiCmdline(cmdline: string, slot: Slot, verity: SlotVerity | null = null): string {
  return withSlotRoot(cmdline, slot, verity) + "\n";
}

/** The update service's slot settings, written into the image's /etc/sovereign/config.json. */
export function slotUpdateSettings(board: BoardProfile): Record<string, unknown> {
  const boot = abBootOf(board);
  return {
    slotA: `/dev/disk/by-partlabel/${SLOT_PARTLABEL.a}`,
    slotB: `/dev/disk/by-partlabel/${SLOT_PARTLABEL.b}`,
    ...(boot.slotBoot ? { bootSlotA: `/dev/disk/by-partlabel/${boot.slotBoot.a}`, bootSlotB: `/dev/disk/by-partlabel/${boot.slotBoot.b}` } : {}),
    bootDir: boot.dir,
    bootMethod: boot.method,
    // The node cannot reboot from its sandbox: it asks, and sovereign-reboot.path does it as root.
    rebootCommand: ["/usr/bin/touch", REBOOT_REQUEST],
  };
}

/** The block devices the update service writes: the slots, and on a Pi each slot's boot partition. */
export function slotDeviceLabels(board: BoardProfile): string[] {
  const boot = abBootOf(board).slotBoot;
  return [SLOT_PARTLABEL.a, SLOT_PARTLABEL.b, ...(boot ? [boot.a, boot.b] : [])];
}

/** The file the node touches to ask for a reboot (into a trial, or out of one the health gate gave up). */
export const REBOOT_REQUEST = `${DATA_DIR}/update/reboot-request`;

/** The slots' block devices belong to the service's group: the update service writes the inactive one. */
export function slotUdevRule(board: BoardProfile): string {
  return `SUBSYSTEM=="block", ENV{ID_PART_ENTRY_NAME}=="${slotDeviceLabels(board).join("|")}", GROUP="${SERVICE_USER}", MODE="0660"\n`;
}

/** The path unit, service and script that reboot when the node asks; a request older than this boot (a power cut after it) is dropped, not obeyed. */
export function rebootRequestUnits(board?: BoardProfile): { path: string; service: string; script: string } {
  const boot = board ? abBootOf(board) : null;
  // tryboot: a trial is armed when autoboot.txt's [tryboot] names another partition than [all]. From the committed
  // slot the reboot is the firmware's one-shot tryboot; from anywhere else (the trial, leaving it) a plain one.
  const tryboot =
    boot?.method === "tryboot"
      ? [
          `ab=${boot.dir}/autoboot.txt`,
          "part() { awk -v want=\"[$1]\" '/^\\[/ { s = $0 } s == want && /^boot_partition=/ { sub(/^boot_partition=/, \"\"); p = $0 } END { print p }' \"$ab\" 2>/dev/null; }",
          "all=$(part all); try=$(part tryboot)",
          `case "$(sed -n 's/.*sovereign\\.slot=\\([ab]\\).*/\\1/p' /proc/cmdline)" in a) me=${TRYBOOT_PARTITIONS.a} ;; b) me=${TRYBOOT_PARTITIONS.b} ;; *) me= ;; esac`,
          'if [ -n "$try" ] && [ "$try" != "$all" ] && [ "$me" = "$all" ]; then echo "rebooting into the trial (tryboot, partition $try)"; exec systemctl reboot "0 tryboot"; fi',
        ]
      : [];
  return {
    path: ["[Unit]", "Description=Reboot when the Sovereign node asks (an update's trial boot, or leaving one)", "", "[Path]", `PathExists=${REBOOT_REQUEST}`, "", "[Install]", "WantedBy=multi-user.target", ""].join("\n"),
    service: ["[Unit]", "Description=Reboot for the Sovereign node's update", "", "[Service]", "Type=oneshot", `ExecStart=${REBOOT_SCRIPT}`, ""].join("\n"),
    script: [
      "#!/bin/sh",
      "# sovereign-reboot.path found the node's request (image/lib/abLayout.ts).",
      `f=${REBOOT_REQUEST}`,
      "[ -e \"$f\" ] || exit 0",
      "booted=$(( $(date +%s) - $(cut -d. -f1 /proc/uptime) ))",
      "if [ \"$(stat -c %Y \"$f\")\" -lt \"$booted\" ]; then echo \"dropping a reboot request from before this boot\"; rm -f \"$f\"; exit 0; fi",
      "rm -f \"$f\"",
      "sync",
      ...tryboot,
      "exec systemctl reboot",
      "",
    ].join("\n"),
  };
}

export const REBOOT_SCRIPT = "/usr/local/sbin/sovereign-reboot-request";

/**
 * Runs (as root) when sovereign.service has failed for good (its start
 * limit): on a trial boot the trial is given up and the node reboots into the
 * old slot; on a committed slot the node is started again after a pause, as
 * Restart= did before the limit.
 */
export function trialGuardService(env: Record<string, string>): string {
  return [
    "[Unit]",
    "Description=Sovereign: leave a trial boot whose node does not start",
    "",
    "[Service]",
    "Type=oneshot",
    ...Object.entries(env).map(([k, v]) => `Environment=${k}=${v}`),
    "ExecStart=-/usr/local/bin/sovereign update leave-trial --why \"the node failed to start (sovereign.service hit its start limit)\" --json",
    "ExecStart=/bin/sh -c 'sleep 60; systemctl reset-failed sovereign.service; systemctl start --no-block sovereign.service'",
    "",
  ].join("\n");
}

/** The ESP's fstab options in the A/B layout: the service's group may write (boot entries, a slot's kernel and initrd). */
export function espMountOptions(gid: number): string {
  return `uid=0,gid=${gid},fmask=0117,dmask=0007,nofail,x-systemd.device-timeout=5min`;
}

/** The data partition's fstab line (already mounted by the initramfs; listed so systemd knows and unmounts it last). */
export function dataFstabLine(): string {
  return `/dev/mapper/${DATA_MAPPER} ${DATA_MOUNT} ext4 defaults,noatime 0 0`;
}

/** UEFI boards with a GPT disk, and the Raspberry Pis, whose A/B disk is GPT (the 2020-09 and later bootloader reads it). */
export function boardSupportsAb(board: BoardProfile): boolean {
  return board.boot.kind === "raspberrypi" || (board.boot.kind === "uefi" && board.partitions.table === "gpt");
}

export { DATA_PARTLABEL, SLOT_PARTLABEL };
