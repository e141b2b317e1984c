import type { BoardProfile } from "../boards/BoardProfile.js";

export const SUITE = "trixie";

/** The image's own apt sources (deb822), so the device can update from the same mirror. */
export function aptSources(board: BoardProfile, mirror: string): string {
  return [SUITE, `${SUITE}-updates`, ...board.extraSuites]
    .map((s) => `Types: deb\nURIs: ${mirror}\nSuites: ${s}\nComponents: ${board.components.join(" ")}\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`)
    .join("\n");
}
