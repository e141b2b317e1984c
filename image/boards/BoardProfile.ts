/**
 * A board profile: what the image builder needs to make a bootable disk for
 * the board, and the runtime defaults the board's layer adds to the config.
 */
export interface BoardProfile {
  readonly id: string;
  readonly title: string;
  readonly arch: "amd64" | "arm64";
  /** Config values this board's images start from (the "board" config layer). */
  readonly runtime: Readonly<Record<string, unknown>>;
}
