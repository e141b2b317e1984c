import { debian } from "./debian.js";
import type { Distro } from "./Distro.js";

/** The distributions an image can be built from; the first is the default. A second one is a module beside debian.ts, listed here. */
export const distros: readonly Distro[] = [debian];

export const defaultDistro: Distro = debian;

export function findDistro(id: string): Distro | undefined {
  return distros.find((d) => d.id === id);
}
