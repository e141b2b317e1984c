/**
 * Orders two versions: dot/dash/plus separated, numeric fields compared as
 * numbers, others as text; a missing field sorts first ("1.2" < "1.2.1").
 */
export function compareVersions(a: string, b: string): number {
  const fa = a.split(/[.+-]/);
  const fb = b.split(/[.+-]/);
  for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
    const x = fa[i];
    const y = fb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}
