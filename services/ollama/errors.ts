import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

export const ollamaErrors = defineErrors("ollama", {
  OLLAMA_NOT_OFFERED: {
    status: 400,
    description: "An Ollama model-management call this node does not offer: it has no internet to pull from (or push to) Ollama's registry, and builds no models from Modelfiles. The message names the call.",
    hint: "Install a GGUF file instead: the Models page (/#/models), POST /api/models/upload, or `sovereign model add FILE` on the node.",
  },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof ollamaErrors> {}
}
