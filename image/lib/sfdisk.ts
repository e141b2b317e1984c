/** GPT partition type GUIDs (UAPI discoverable partitions). */
export const partitionTypes = {
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  rootAmd64: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
  rootArm64: "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
  linuxData: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  // FAT partitions the Raspberry Pi firmware reads on a GPT disk (it does not read the ESP type's meaning).
  basicData: "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
} as const;

/** GPT partition names of the A/B layout: the kernel command line names a slot by these (root=PARTLABEL=…). */
export const SLOT_PARTLABEL = { a: "sovereign-root-a", b: "sovereign-root-b" } as const;
export const DATA_PARTLABEL = "sovereign-data";
/**
 * The A/B layout's ESP, by GPT name: fstab mounts it by this name, because a slot's fstab comes from the
 * build of its bundle, whose ESP volume id is not this disk's.
 */
export const ESP_PARTLABEL = "sovereign-esp";
/**
 * The Raspberry Pi A/B layout: partition 1 holds only autoboot.txt (the firmware's choice of boot partition),
 * and each slot has its own FAT boot partition, 2 and 3 (core/bootSelection.ts TRYBOOT_PARTITIONS).
 */
export const AUTOBOOT_PARTLABEL = "sovereign-autoboot";
export const SLOT_BOOT_PARTLABEL = { a: "sovereign-boot-a", b: "sovereign-boot-b" } as const;

export const SECTOR = 512;
export const MiB = 1024 * 1024;

export interface DiskLayout {
  table: "gpt" | "dos";
  arch: "amd64" | "arm64";
  /** Partition sizes in bytes, each a whole number of MiB. */
  bootBytes: number;
  /** The LUKS2 volume, last on the disk so first boot can grow it: the root, or in the A/B layout the data partition. */
  rootBytes: number;
  /** A/B layout: the size of each system slot (A holds the root filesystem, B is empty until an update). */
  slotBytes?: number;
  /**
   * Raspberry Pi A/B layout: the size of each slot's own FAT boot partition. With it, `bootBytes` is the
   * small autoboot partition, and the disk is autoboot, boot A, boot B, slot A, slot B, data.
   */
  slotBootBytes?: number;
  /** Total image size in bytes; at least what the partitions need. */
  diskBytes: number;
}

export interface PartitionPlacement {
  startBytes: number;
  sizeBytes: number;
}

export interface Placement {
  boot: PartitionPlacement;
  /** The LUKS2 volume (the data partition in the A/B layout), always last. */
  root: PartitionPlacement;
  slots?: { a: PartitionPlacement; b: PartitionPlacement };
  /** Raspberry Pi A/B layout: each slot's boot partition (partitions 2 and 3). */
  slotBoots?: { a: PartitionPlacement; b: PartitionPlacement };
}

/** Where each partition goes: 1 MiB aligned, boot first, then the slots' boot partitions (Pi A/B), the two slots (A/B), the LUKS volume last. */
export function placePartitions(layout: DiskLayout): Placement {
  const boot = { startBytes: MiB, sizeBytes: layout.bootBytes };
  const slotBoot = layout.slotBytes ? (layout.slotBootBytes ?? 0) : 0;
  let at = MiB + layout.bootBytes;
  const next = (size: number): PartitionPlacement => {
    const p = { startBytes: at, sizeBytes: size };
    at += size;
    return p;
  };
  const slotBoots = slotBoot > 0 ? { a: next(slotBoot), b: next(slotBoot) } : undefined;
  const slot = layout.slotBytes ?? 0;
  const slots = slot > 0 ? { a: next(slot), b: next(slot) } : undefined;
  const root = next(layout.rootBytes);
  return { boot, root, ...(slots ? { slots } : {}), ...(slotBoots ? { slotBoots } : {}) };
}

/** The smallest image that holds the layout (plus the GPT backup header at the end). */
export function minimumDiskBytes(bootBytes: number, rootBytes: number, slotBytes = 0, slotBootBytes = 0): number {
  return MiB + bootBytes + 2 * slotBootBytes + 2 * slotBytes + rootBytes + MiB;
}

/**
 * The sfdisk script for the image file. sfdisk writes the table straight into
 * the file: no loop device. The root partition is only as large as the
 * encrypted filesystem; first boot grows it to the medium.
 */
export function sfdiskScript(layout: DiskLayout): string {
  if ([layout.bootBytes, layout.rootBytes, layout.slotBytes ?? 0, layout.slotBootBytes ?? 0].some((n) => n % MiB !== 0)) throw new Error("partition sizes must be whole MiB");
  if (layout.diskBytes < minimumDiskBytes(layout.bootBytes, layout.rootBytes, layout.slotBytes, layout.slotBytes ? layout.slotBootBytes : 0)) throw new Error("disk is smaller than its partitions");
  const { boot, root, slots, slotBoots } = placePartitions(layout);
  const s = (n: number): number => n / SECTOR;
  if (layout.table === "gpt") {
    const rootType = layout.arch === "amd64" ? partitionTypes.rootAmd64 : partitionTypes.rootArm64;
    const line = (p: PartitionPlacement, type: string, name: string): string => `start=${s(p.startBytes)}, size=${s(p.sizeBytes)}, type=${type}, name="${name}"`;
    return [
      "label: gpt",
      "unit: sectors",
      "sector-size: 512",
      "",
      ...(slotBoots
        ? [line(boot, partitionTypes.basicData, AUTOBOOT_PARTLABEL), line(slotBoots.a, partitionTypes.basicData, SLOT_BOOT_PARTLABEL.a), line(slotBoots.b, partitionTypes.basicData, SLOT_BOOT_PARTLABEL.b)]
        : [line(boot, partitionTypes.esp, slots ? ESP_PARTLABEL : "ESP")]),
      // The slots carry the root type; the command line names one (root=PARTLABEL=…), so systemd's gpt-auto
      // root discovery, which only acts without root=, never picks between them. The data partition is plain Linux data.
      ...(slots ? [line(slots.a, rootType, SLOT_PARTLABEL.a), line(slots.b, rootType, SLOT_PARTLABEL.b), line(root, partitionTypes.linuxData, DATA_PARTLABEL)] : [line(root, rootType, "sovereign-root")]),
      "",
    ].join("\n");
  }
  if (slots) throw new Error("the A/B layout needs a GPT partition table");
  return [
    "label: dos",
    "unit: sectors",
    "sector-size: 512",
    "",
    `start=${s(boot.startBytes)}, size=${s(boot.sizeBytes)}, type=c, bootable`,
    `start=${s(root.startBytes)}, size=${s(root.sizeBytes)}, type=83`,
    "",
  ].join("\n");
}

/** Parses `sfdisk --json` output into the facts tests and the manifest need. */
export function parseSfdiskJson(text: string): { label: string; partitions: { start: number; size: number; type: string; bootable: boolean }[] } {
  const j = JSON.parse(text) as { partitiontable: { label: string; partitions: { start: number; size: number; type: string; bootable?: boolean }[] } };
  return {
    label: j.partitiontable.label,
    partitions: j.partitiontable.partitions.map((p) => ({ start: p.start, size: p.size, type: p.type, bootable: p.bootable ?? false })),
  };
}
