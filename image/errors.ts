import { defineErrors, type CodesOf } from "../core/errors/catalog.js";

/** Errors of the image builder (`sovereign image …`): pre-flight refusals first, then failures. */
export const imageErrors = defineErrors("image", {
  IMAGE_UNKNOWN_BOARD: { status: 400, description: "The board named with --board is not one the builder knows.", hint: "Run `sovereign image boards` for the list." },
  IMAGE_BOARD_INVALID: { status: 500, description: "A board profile does not satisfy the board schema (a bug in the profile)." },
  IMAGE_OPTION_INVALID: { status: 400, description: "An option of `sovereign image` has a value the builder cannot use.", hint: "See `sovereign image build --help`." },
  IMAGE_UNLOCK_UNSUPPORTED: { status: 400, description: "The board does not support the chosen unlock method.", hint: "`sovereign image boards` lists the unlock methods of each board." },
  IMAGE_HOST_TOOL_MISSING: { status: 400, description: "A tool the build needs is not installed on the build host.", hint: "Install the named Debian package (apt-get install …), then run the build again." },
  IMAGE_NOT_ROOT: { status: 400, description: "Building an image needs root (chroot, file ownership in the rootfs).", hint: "Run the build as root, e.g. with sudo." },
  IMAGE_DISK_SPACE: { status: 400, description: "The output or work directory has too little free space for the build.", hint: "Free space there, or point --out/--cache at a larger disk." },
  IMAGE_MODEL_INVALID: { status: 400, description: "A file given with --model is not a valid GGUF model.", hint: "Pass a .gguf file as downloaded from the model's publisher." },
  IMAGE_INPUT_MISSING: { status: 400, description: "A file the build was told to use does not exist or cannot be read." },
  IMAGE_VENDOR_LAYER_MISSING: { status: 400, description: "The board's opt-in vendor layer (NVIDIA L4T) was asked for but its BSP path or apt source is not usable.", hint: "Pass the path of an unpacked L4T BSP, or an apt source line for NVIDIA's repository." },
  IMAGE_COMMAND_FAILED: { status: 500, description: "A command the build ran failed; its output tail is in the message and all of it in the build log." },
  IMAGE_FLASH_TARGET_REFUSED: { status: 400, description: "The flash target is the disk the host runs from, is mounted, or is not a whole block device.", hint: "Name the removable disk (e.g. /dev/sdb) and unmount its partitions first." },
  IMAGE_FLASH_VERIFY_FAILED: { status: 500, description: "What was read back from the flashed device does not match the image.", hint: "The medium may be failing; try another one." },
  IMAGE_FLASH_ABORTED: { status: 400, description: "Flashing was not confirmed.", hint: "Answer yes, or pass --yes." },
});

declare module "../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof imageErrors> {}
}
