import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The layering of ../shared/DESIGN.md section 1: core → hardware → services → appliance, and image beside
// services on core and hardware. Each layer names the folders it must never import from.
const layers = {
  core: ["hardware", "services", "appliance", "image", "web-ui"],
  hardware: ["services", "appliance", "image", "web-ui"],
  services: ["appliance", "image", "web-ui"],
  image: ["services", "appliance", "web-ui"],
};
const boundaries = Object.entries(layers).map(([layer, above]) => ({
  files: [`${layer}/**/*.ts`],
  rules: {
    "no-restricted-imports": ["error", { patterns: [{ group: above.flatMap((a) => [`**/${a}/**`, `${a}/**`]), message: `${layer}/ must not import from ${above.join(", ")} (layers point down: core → hardware → services → appliance).` }] }],
  },
}));

export default tseslint.config(
  { ignores: [".cache/", "node_modules/", "dist/", "data/", "coverage/", "test-artifacts/", "web-ui/static/vendor/", "bench/results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", URL: "readonly", fetch: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "error",
      // Declaration merging (ErrorCodeMap, Config) extends one type per domain.
      "@typescript-eslint/no-empty-object-type": ["error", { allowInterfaces: "with-single-extends" }],
    },
  },
  {
    files: ["web-ui/**/*.js"],
    languageOptions: { globals: { window: "readonly", document: "readonly", localStorage: "readonly", EventSource: "readonly", navigator: "readonly", FormData: "readonly", AbortController: "readonly", TextDecoder: "readonly", location: "readonly", history: "readonly", alert: "readonly", confirm: "readonly", XMLHttpRequest: "readonly", HTMLElement: "readonly", customElements: "readonly" } },
  },
  ...boundaries,
  { files: ["scripts/**/*.js", "scripts/**/*.ts", "bin/**/*.js", "bench/**/*.ts", "test/**/*.ts"], rules: { "no-console": "off" } },
);
