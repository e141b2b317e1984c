import { existsSync } from "node:fs";
import { basename } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { checkHyperparameters } from "../../core/gguf/checkHyperparameters.js";
import { readGguf, type GgufInfo } from "../../core/gguf/readGguf.js";
import { checkModelName } from "../../core/models/modelEntry.js";

/**
 * Checks a --model file the way the node's registry will when it serves it:
 * core's strict GGUF reader and llama.cpp's hyperparameter limits, and a file
 * name that makes a valid model name. A file the node would refuse is refused
 * at build time, before hours of building.
 */
export function checkGguf(path: string): { info: GgufInfo; name: string } {
  if (!existsSync(path)) throw new SovereignError("IMAGE_INPUT_MISSING", `model file ${path} does not exist`);
  let info: GgufInfo;
  try {
    info = readGguf(path);
    checkHyperparameters(info);
  } catch (err) {
    throw new SovereignError("IMAGE_MODEL_INVALID", `${path} is not a valid GGUF model: ${(err as Error).message}`, { cause: err });
  }
  const name = basename(path).replace(/\.gguf$/i, "");
  try {
    checkModelName(name);
  } catch {
    throw new SovereignError("IMAGE_MODEL_INVALID", `${path}: "${name}" is not a valid model name; rename the file (letters, digits, '.', '_', ':' and '-', at most 128)`);
  }
  return { info, name };
}
