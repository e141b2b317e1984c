import { loadavg } from "node:os";
import { median } from "./inferenceApp.js";

/**
 * Measures every side once per round, the order rotating from round to round so that no side always runs first
 * on a shared, noisy machine; logs each round with the load average. Returns each side's values, in round order.
 */
export async function interleavedRounds(sides: Record<string, () => Promise<number>>, rounds: number): Promise<Record<string, number[]>> {
  const names = Object.keys(sides);
  const res: Record<string, number[]> = Object.fromEntries(names.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
    for (const s of order) res[s]!.push(await sides[s]!());
    console.log(`round ${r + 1}: ${names.map((s) => `${s} ${res[s]!.at(-1)!.toFixed(1)}`).join(", ")} | load ${loadavg()[0]!.toFixed(2)}`);
  }
  return res;
}

/** "medians: …; ratios to <base>: …" of interleavedRounds' values. */
export function mediansAndRatios(res: Record<string, number[]>, base: string): string {
  const names = Object.keys(res);
  return `medians: ${names.map((s) => `${s} ${median(res[s]!).toFixed(1)}`).join(", ")}; ratios to ${base}: ${names.map((s) => `${s} ${(median(res[s]!) / median(res[base]!)).toFixed(3)}`).join(", ")}`;
}
