/**
 * The overall exposure `systemd-analyze security <unit>` prints last
 * ("→ Overall exposure level for sovereign.service: 1.9 OK 🙂"), 0 (locked
 * down) to 10 (unprotected); null when the output has no such line.
 */
export function parseExposure(output: string): number | null {
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(output);
  return m ? Number(m[1]) : null;
}

/**
 * The ordering cycles `systemd-analyze verify default.target` reports: systemd
 * breaks each by dropping a unit's start ("Job X/start deleted to break
 * ordering cycle"), so the booted image would silently lack that unit.
 */
export function orderingCycles(output: string): string[] {
  return [...output.matchAll(/Job (\S+)\/start deleted to break ordering cycle/g)].map((m) => m[1] ?? "");
}
