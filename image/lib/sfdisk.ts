/** GPT partition type GUIDs (UAPI discoverable partitions). */
export const partitionTypes = {
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  rootAmd64: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
  rootArm64: "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
} as const;

export const SECTOR = 512;
export const MiB = 1024 * 1024;

export interface DiskLayout {
  table: "gpt" | "dos";
  arch: "amd64" | "arm64";
  /** Partition sizes in bytes, each a whole number of MiB. */
  bootBytes: number;
  rootBytes: number;
  /** Total image size in bytes; at least what the partitions need. */
  diskBytes: number;
}

export interface PartitionPlacement {
  startBytes: number;
  sizeBytes: number;
}

/** Where each partition goes: 1 MiB aligned, boot first, root right after it. */
export function placePartitions(layout: DiskLayout): { boot: PartitionPlacement; root: PartitionPlacement } {
  const boot = { startBytes: MiB, sizeBytes: layout.bootBytes };
  const root = { startBytes: MiB + layout.bootBytes, sizeBytes: layout.rootBytes };
  return { boot, root };
}

/** The smallest image that holds the layout (plus the GPT backup header at the end). */
export function minimumDiskBytes(bootBytes: number, rootBytes: number): number {
  return MiB + bootBytes + rootBytes + MiB;
}

/**
 * The sfdisk script for the image file. sfdisk writes the table straight into
 * the file: no loop device. The root partition is only as large as the
 * encrypted filesystem; first boot grows it to the medium.
 */
export function sfdiskScript(layout: DiskLayout): string {
  if (layout.bootBytes % MiB !== 0 || layout.rootBytes % MiB !== 0) throw new Error("partition sizes must be whole MiB");
  if (layout.diskBytes < minimumDiskBytes(layout.bootBytes, layout.rootBytes)) throw new Error("disk is smaller than its partitions");
  const { boot, root } = placePartitions(layout);
  const s = (n: number): number => n / SECTOR;
  if (layout.table === "gpt") {
    const rootType = layout.arch === "amd64" ? partitionTypes.rootAmd64 : partitionTypes.rootArm64;
    return [
      "label: gpt",
      "unit: sectors",
      "sector-size: 512",
      "",
      `start=${s(boot.startBytes)}, size=${s(boot.sizeBytes)}, type=${partitionTypes.esp}, name="ESP"`,
      `start=${s(root.startBytes)}, size=${s(root.sizeBytes)}, type=${rootType}, name="sovereign-root"`,
      "",
    ].join("\n");
  }
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
