/** Parses a kernel CPU list ("0-3,6,8-9") into sorted ids; null when it is not one. */
export function parseCpuList(text: string): number[] | null {
  const t = text.trim();
  if (t === "") return null;
  const out = new Set<number>();
  for (const part of t.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b - a > 65_536) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}
