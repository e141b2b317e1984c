import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

export const chatErrors = defineErrors("chat", {
  RESPONSE_NOT_STORED: {
    status: 404,
    description: "A Responses API call names a stored response, and this node stores none: every /v1/responses call is answered and forgotten.",
    hint: "Keep the conversation on the client and send it in `input` each turn.",
  },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof chatErrors> {}
}
