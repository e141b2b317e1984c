/**
 * Boot selection as pure generators: given the relevant files of the boot
 * partition (paths relative to it, with their text), each method returns the
 * file operations that arm a trial boot of a slot, commit it after health, or
 * says what the boot partition currently asks for. applyBootOps.ts carries
 * the operations out on a directory (the mounted ESP, or a temp dir in tests).
 */
export type Slot = "a" | "b";
export const otherSlot = (s: Slot): Slot => (s === "a" ? "b" : "a");

export type BootOp =
  | { op: "write"; path: string; content: string }
  | { op: "rename"; from: string; to: string }
  | { op: "remove"; path: string };

/** The boot partition's relevant files: relative path → text. */
export type BootFiles = ReadonlyMap<string, string>;

export interface BootView {
  /** The slot booted when nothing is on trial. */
  committed: Slot | null;
  /** A slot armed for a trial boot, if any. */
  trial: Slot | null;
  /** systemd-boot: tries left on the trial entry (0: the firmware gave up on it). */
  triesLeft: number | null;
}

export interface ArmRequest {
  slot: Slot;
  version: string;
  /** The new slot's verity from the verified manifest; null for a bundle without it (its root is mounted read-write). */
  verity: SlotVerity | null;
  /** systemd-boot: how many boots the trial gets. */
  tries: number;
}

export interface BootSelector {
  readonly method: "systemd-boot" | "tryboot";
  /** Relative paths (or directories, ending in "/") whose files the generators read. */
  readonly watched: readonly string[];
  arm(files: BootFiles, req: ArmRequest): BootOp[];
  commit(files: BootFiles, slot: Slot): BootOp[];
  /** Gives a trial up (the health gate timed out): the next plain reboot starts the committed slot. */
  abandon(files: BootFiles, slot: Slot): BootOp[];
  inspect(files: BootFiles): BootView;
  /** The command that restarts into the armed trial. */
  rebootCommand(): string[];
}

// ---- systemd-boot with boot counting (UEFI) ----

const ENTRY_DIR = "loader/entries/";
const ENTRY = /^loader\/entries\/sovereign-([ab])(?:\+(\d+)(?:-(\d+))?)?\.conf$/;

interface Entry {
  path: string;
  slot: Slot;
  triesLeft: number | null;
  triesDone: number | null;
  generation: number;
  text: string;
}

function entries(files: BootFiles): Entry[] {
  const out: Entry[] = [];
  for (const [path, text] of files) {
    const m = ENTRY.exec(path);
    if (!m) continue;
    const gen = /^version\s+(\d+)\s*$/m.exec(text);
    out.push({
      path, slot: m[1] as Slot, text,
      triesLeft: m[2] !== undefined ? Number(m[2]) : null,
      triesDone: m[3] !== undefined ? Number(m[3]) : null,
      generation: gen ? Number(gen[1]) : 0,
    });
  }
  return out;
}

/**
 * A slot's dm-verity: the hash tree's root hash (hex) and where the tree starts on the slot (bytes), after the
 * filesystem. The bundle manifest carries it, so the signature covers it; the slot's kernel options pass it.
 */
export interface SlotVerity {
  rootHash: string;
  hashOffset: number;
}

/** dm-verity's data and hash block size on a slot: the filesystem's block (mkfs -b 4096), so a data block is one ext4 block. */
export const VERITY_BLOCK_BYTES = 4096;

/** The dm name of a verity slot, opened read-only by the initramfs and mounted (under a RAM overlay) as root. */
export const VERITY_MAPPER = "sovslot";

/** The kernel options that name a slot and how its root is mounted: through verity, or (a bundle built before it) read-write by its GPT name. */
export function slotRootArgs(slot: Slot, verity: SlotVerity | null): string[] {
  if (!verity) return [`root=PARTLABEL=sovereign-root-${slot}`, `sovereign.slot=${slot}`, "rw"];
  // fsck.mode=skip: the verity device is read-only and its filesystem never changes, so a check can only fail to open it.
  return [`root=/dev/mapper/${VERITY_MAPPER}`, `sovereign.slot=${slot}`, `sovereign.roothash=${verity.rootHash}`, `sovereign.hashoffset=${verity.hashOffset}`, "ro", "fsck.mode=skip"];
}

const SLOT_ROOT_TOKEN = /^(?:root=|sovereign\.slot=|sovereign\.roothash=|sovereign\.hashoffset=|fsck\.mode=|rw$|ro$)/;

/** Kernel options with the slot and its root replaced (slotRootArgs first); every other option is kept in order. */
export function withSlotRoot(options: string, slot: Slot, verity: SlotVerity | null): string {
  const kept = options.trim().split(/\s+/).filter((t) => t !== "" && !SLOT_ROOT_TOKEN.test(t));
  return [...slotRootArgs(slot, verity), ...kept].join(" ");
}

/** The verity a kernel command line names, if any (`sovereign.roothash=` and `sovereign.hashoffset=`). */
export function slotVerityOf(cmdline: string): SlotVerity | null {
  const hash = /(?:^|\s)sovereign\.roothash=([0-9a-f]{64})(?:\s|$)/.exec(cmdline)?.[1];
  const offset = /(?:^|\s)sovereign\.hashoffset=(\d+)(?:\s|$)/.exec(cmdline)?.[1];
  return hash && offset ? { rootHash: hash, hashOffset: Number(offset) } : null;
}

/**
 * A slot's entry. `sharedInitrds` follow the slot's own initrd, in order: files on the ESP that belong to
 * the node rather than to a slot (an ssh-unlock image's host keys, appended as a cpio archive).
 */
export function systemdBootEntry(slot: Slot, version: string, generation: number, options: string, sharedInitrds: readonly string[] = []): string {
  return [
    `title Sovereign Node ${version} (slot ${slot.toUpperCase()})`,
    // One sort key for both slots; then systemd-boot orders by version, newest first, so the generation decides.
    "sort-key sovereign",
    `version ${generation}`,
    `linux /sovereign/${slot}/vmlinuz`,
    `initrd /sovereign/${slot}/initrd.img`,
    ...sharedInitrds.map((p) => `initrd ${p}`),
    `options ${options}`,
    "",
  ].join("\n");
}

/** An entry's initrd lines that are not under a slot's own directory, in order. */
export function sharedInitrdsOf(entry: string): string[] {
  return [...entry.matchAll(/^initrd\s+(\S+)\s*$/gm)].map((m) => m[1] ?? "").filter((p) => p !== "" && !/^\/sovereign\/[ab]\//.test(p));
}

/** loader.conf with `default sovereign-*`: the newest generation that is not bad boots; other lines are kept. */
function loaderConf(current: string | undefined): string {
  const kept = (current ?? "").split("\n").filter((l) => l.trim() !== "" && !/^default\s/.test(l));
  return ["default sovereign-*", ...(kept.some((l) => /^timeout\s/.test(l)) ? [] : ["timeout 0"]), ...kept, ""].join("\n");
}

export const systemdBoot: BootSelector = {
  method: "systemd-boot",
  watched: ["loader/loader.conf", ENTRY_DIR],
  arm(files, { slot, version, tries, verity }) {
    const all = entries(files);
    const generation = all.reduce((g, e) => Math.max(g, e.generation), 0) + 1;
    const from = all.find((e) => e.slot === otherSlot(slot));
    const opts = /^options\s+(.*)$/m.exec(from?.text ?? "")?.[1] ?? `sovereign.slot=${slot}`;
    return [
      ...all.filter((e) => e.slot === slot).map((e): BootOp => ({ op: "remove", path: e.path })),
      { op: "write", path: `${ENTRY_DIR}sovereign-${slot}+${tries}.conf`, content: systemdBootEntry(slot, version, generation, withSlotRoot(opts, slot, verity), sharedInitrdsOf(from?.text ?? "")) },
      { op: "write", path: "loader/loader.conf", content: loaderConf(files.get("loader/loader.conf")) },
    ];
  },
  commit(files, slot) {
    // What systemd-bless-boot does: drop the counter from the file name.
    return entries(files)
      .filter((e) => e.slot === slot && e.triesLeft !== null)
      .map((e) => ({ op: "rename", from: e.path, to: `${ENTRY_DIR}sovereign-${slot}.conf` }));
  },
  abandon(files, slot) {
    // Tries used up, as systemd-boot itself would leave it: the entry sorts last and the other slot boots.
    return entries(files)
      .filter((e) => e.slot === slot && e.triesLeft !== null && e.triesLeft > 0)
      .map((e) => ({ op: "rename", from: e.path, to: `${ENTRY_DIR}sovereign-${slot}+0-${(e.triesDone ?? 0) + (e.triesLeft ?? 0)}.conf` }));
  },
  inspect(files) {
    const all = entries(files);
    const trial = all.find((e) => e.triesLeft !== null) ?? null;
    const committed = all.filter((e) => e.triesLeft === null).sort((x, y) => y.generation - x.generation)[0] ?? null;
    return { committed: committed?.slot ?? null, trial: trial?.slot ?? null, triesLeft: trial?.triesLeft ?? null };
  },
  rebootCommand: () => ["systemctl", "reboot"],
};

// ---- Raspberry Pi firmware tryboot ----

/** The firmware partition numbers of each slot's boot files (partition 1 holds autoboot.txt). */
export const TRYBOOT_PARTITIONS: Readonly<Record<Slot, number>> = { a: 2, b: 3 };

/**
 * `givenUp` names a slot that failed (a trial the health gate gave up, or a committed slot that did not verify at
 * boot), as a comment the firmware ignores: the initramfs reads it and never falls back to that slot.
 */
export function autobootTxt(committed: Slot, tryboot: Slot, givenUp: Slot | null = null): string {
  return [
    ...(givenUp ? [givenUpLine(givenUp)] : []),
    "[all]", "tryboot_a_b=1", `boot_partition=${TRYBOOT_PARTITIONS[committed]}`, "[tryboot]", `boot_partition=${TRYBOOT_PARTITIONS[tryboot]}`, "",
  ].join("\n");
}

/** autoboot.txt's comment that marks a slot given up (autobootTxt). */
export const givenUpLine = (slot: Slot | "$other"): string => `# sovereign: slot ${slot} given up`;

function parseAutoboot(text: string | undefined): { all: Slot | null; tryboot: Slot | null } {
  const out: { all: Slot | null; tryboot: Slot | null } = { all: null, tryboot: null };
  let section = "all";
  for (const raw of (text ?? "").split("\n")) {
    const line = raw.trim();
    const sec = /^\[(\w+)\]$/.exec(line);
    if (sec) {
      section = sec[1] ?? "";
      continue;
    }
    const m = /^boot_partition=(\d+)$/.exec(line);
    if (!m) continue;
    const slot = (Object.keys(TRYBOOT_PARTITIONS) as Slot[]).find((s) => TRYBOOT_PARTITIONS[s] === Number(m[1])) ?? null;
    if (section === "all") out.all = slot;
    else if (section === "tryboot") out.tryboot = slot;
  }
  return out;
}

export const tryboot: BootSelector = {
  method: "tryboot",
  watched: ["autoboot.txt"],
  arm(files, { slot }) {
    const committed = parseAutoboot(files.get("autoboot.txt")).all ?? otherSlot(slot);
    // A normal boot stays on the committed slot; only `reboot "0 tryboot"` starts the trial, once.
    return [{ op: "write", path: "autoboot.txt", content: autobootTxt(committed === slot ? otherSlot(slot) : committed, slot) }];
  },
  // Committed, and nothing armed: [tryboot] names the same partition, so a stray tryboot reboot stays on it
  // (the image's reboot script starts a tryboot only while [tryboot] names the other one).
  commit(_files, slot) {
    return [{ op: "write", path: "autoboot.txt", content: autobootTxt(slot, slot) }];
  },
  // tryboot is one boot only: a reboot without the flag already starts the committed partition. Disarmed too,
  // so a later tryboot cannot start the slot that failed.
  abandon(files, slot) {
    const committed = parseAutoboot(files.get("autoboot.txt")).all;
    return committed ? [{ op: "write", path: "autoboot.txt", content: autobootTxt(committed, committed, committed === slot ? null : slot) }] : [];
  },
  inspect(files) {
    const a = parseAutoboot(files.get("autoboot.txt"));
    return { committed: a.all, trial: a.tryboot !== null && a.tryboot !== a.all ? a.tryboot : null, triesLeft: null };
  },
  rebootCommand: () => ["reboot", "0 tryboot"],
};

export function bootSelectorFor(method: "systemd-boot" | "tryboot" | "none"): BootSelector | null {
  return method === "systemd-boot" ? systemdBoot : method === "tryboot" ? tryboot : null;
}

/**
 * What the initramfs leaves on the boot partition when the committed slot it booted did not verify and it gave
 * that slot up (the next boot starts the other one): `slot=<a|b>` and `reason=<text>` lines. The update service
 * reads it once, records the slot as bad and removes it.
 */
export const BOOT_FAILURE_NOTE = "sovereign-boot-failure.txt";

export interface BootFailureNote {
  slot: Slot;
  reason: string;
  /** Who gave the slot up: the initramfs at boot, or the running system's dm-verity watcher (when=running). */
  when: "boot" | "running";
}

export function parseBootFailureNote(text: string): BootFailureNote | null {
  const slot = /^slot=([ab])\s*$/m.exec(text)?.[1] as Slot | undefined;
  const reason = /^reason=(.+)$/m.exec(text)?.[1]?.trim();
  const when = /^when=running\s*$/m.test(text) ? "running" : "boot";
  return slot ? { slot, reason: reason || "it did not verify at boot", when } : null;
}

/** Reads the booted slot from a kernel command line (`sovereign.slot=a|b`). */
export function bootedSlotOf(cmdline: string): Slot | null {
  const m = /(?:^|\s)sovereign\.slot=([ab])(?:\s|$)/.exec(cmdline);
  return (m?.[1] as Slot | undefined) ?? null;
}
