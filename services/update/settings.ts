import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/**
 * Settings of the update service: the slot layout is declared here, so an
 * image (or a test) describes its slots as data: block devices on a node,
 * plain files in tests.
 */
export const updateSettings = [
  setting.list({
    key: "update.trustedKeys", env: "SOVEREIGN_UPDATE_TRUSTED_KEYS", flag: "--update-trusted-keys", default: [],
    help: "ed25519 public keys (64 hex digits) whose update bundles this node accepts. Images pin the build key (or `--update-key`).",
  }),
  setting.optionalPath({
    key: "update.slotA", env: "SOVEREIGN_UPDATE_SLOT_A", flag: "--update-slot-a",
    help: "System slot A: the block device (or, in tests, a file) that receives a bundle's root filesystem. Unset: updates are off.",
  }),
  setting.optionalPath({
    key: "update.slotB", env: "SOVEREIGN_UPDATE_SLOT_B", flag: "--update-slot-b",
    help: "System slot B, like update.slotA.",
  }),
  setting.optionalPath({
    key: "update.bootDir", env: "SOVEREIGN_UPDATE_BOOT_DIR", flag: "--update-boot-dir",
    help: "The mounted boot partition (the ESP, or the Pi's firmware partition) where each slot's kernel, initrd and boot entries live.",
  }),
  setting.optionalPath({
    key: "update.bootSlotA", env: "SOVEREIGN_UPDATE_BOOT_SLOT_A", flag: "--update-boot-slot-a",
    help: "Raspberry Pi A/B: slot A's own FAT boot partition (block device, or a file in tests) that receives a bundle's boot.vfat whole. Unset: a bundle's boot parts are written as files under update.bootDir. Set both or neither of update.bootSlotA and update.bootSlotB.",
  }),
  setting.optionalPath({
    key: "update.bootSlotB", env: "SOVEREIGN_UPDATE_BOOT_SLOT_B", flag: "--update-boot-slot-b",
    help: "Raspberry Pi A/B: slot B's own FAT boot partition, like update.bootSlotA.",
  }),
  setting.enum({
    key: "update.bootMethod", env: "SOVEREIGN_UPDATE_BOOT_METHOD", flag: "--update-boot-method",
    values: ["systemd-boot", "tryboot", "none"] as const, default: "none",
    help: "How a trial boot is armed: systemd-boot boot counting (UEFI), the Pi firmware's tryboot, or none (write the slot only).",
  }),
  setting.integer({
    key: "update.bootTries", env: "SOVEREIGN_UPDATE_BOOT_TRIES", flag: "--update-boot-tries", default: 3, min: 1, max: 9,
    help: "How many times systemd-boot tries a new slot before it falls back to the old one.",
  }),
  setting.string({
    key: "update.bootedSlotSource", env: "SOVEREIGN_UPDATE_CMDLINE", flag: "--update-cmdline", default: "/proc/cmdline",
    help: "Where the booted slot is read from (the kernel command line carries sovereign.slot=a|b).",
  }),
  setting.list({
    key: "update.rebootCommand", env: "SOVEREIGN_UPDATE_REBOOT_COMMAND", flag: "--update-reboot-command", default: [],
    help: "The command (argv) that restarts into an armed update (and, when set, out of a trial the health gate gave up). Empty: the boot method's own (`systemctl reboot`; `reboot \"0 tryboot\"` on a Pi).",
  }),
  setting.integer({
    key: "update.maxBundleBytes", env: "SOVEREIGN_UPDATE_MAX_BUNDLE_BYTES", flag: "--update-max-bundle-bytes", default: 8 * 1024 ** 3, min: 1024,
    help: "Largest bundle the panel accepts as an upload, in bytes (only the upload route takes bodies this large).",
  }),
  setting.boolean({
    key: "update.pullFromPeers", env: "SOVEREIGN_UPDATE_PULL_FROM_PEERS", flag: "--update-pull-from-peers", default: true,
    help: "Download and verify a newer bundle for this board that a core federation peer offers (signed by a trusted key). Applying it is update.autoApplyFromPeers or the admin's.",
  }),
  setting.boolean({
    key: "update.autoApplyFromPeers", env: "SOVEREIGN_UPDATE_AUTO_APPLY_FROM_PEERS", flag: "--update-auto-apply-from-peers", default: false,
    help: "Write a bundle pulled from a core peer to the inactive slot as soon as it is verified. Off: it waits for the admin (POST /api/update/pull/apply). The restart stays the admin's either way.",
  }),
  setting.integer({
    key: "update.pullChunkBytes", env: "SOVEREIGN_UPDATE_PULL_CHUNK_BYTES", flag: "--update-pull-chunk-bytes", default: 4 * 1024 * 1024, min: 4096, max: 256 * 1024 * 1024,
    help: "Size of each HTTP Range request when pulling a bundle from a peer; a pull resumes from the bytes already on disk.",
  }),
  setting.boolean({
    key: "update.offerToPeers", env: "SOVEREIGN_UPDATE_OFFER_TO_PEERS", flag: "--update-offer-to-peers", default: true,
    help: "Keep the bundles this node applied (uploaded or pulled) under update/offers and offer them to core peers.",
  }),
  setting.integer({
    key: "update.offersKeep", env: "SOVEREIGN_UPDATE_OFFERS_KEEP", flag: "--update-offers-keep", default: 2, min: 1, max: 16,
    help: "How many shared bundles update/offers keeps (the newest versions; older ones are deleted).",
  }),
  setting.integer({
    key: "update.offerIntervalSeconds", env: "SOVEREIGN_UPDATE_OFFER_INTERVAL", flag: "--update-offer-interval", default: 600, min: 10, max: 86_400,
    help: "How often the shared bundles are offered again to core peers (also at every start and when one is added).",
  }),
  setting.integer({
    key: "update.healthGateSeconds", env: "SOVEREIGN_UPDATE_HEALTH_GATE_SECONDS", flag: "--update-health-gate-seconds", default: 120, min: 1, max: 3600,
    help: "How long all of the node's checks (its readiness) must pass in a row on a trial boot before the new slot is marked good.",
  }),
  setting.integer({
    key: "update.healthGateTimeoutSeconds", env: "SOVEREIGN_UPDATE_HEALTH_GATE_TIMEOUT", flag: "--update-health-gate-timeout", default: 900, min: 1, max: 86_400,
    help: "A trial boot that has not passed the health gate this long after the node started is given up: its boot entry is spent and the node reboots into the old slot.",
  }),
  setting.integer({
    key: "update.healthGateIntervalSeconds", env: "SOVEREIGN_UPDATE_HEALTH_GATE_INTERVAL", flag: "--update-health-gate-interval", default: 10, min: 1, max: 600,
    help: "How often the health gate runs the checks during a trial boot.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof updateSettings> {}
}
