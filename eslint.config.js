import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: [".cache/", "node_modules/", "dist/", "data/", "coverage/", "test-artifacts/", "web-ui/vendor/", "bench/results/"] },
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
    },
  },
  {
    files: ["web-ui/**/*.js"],
    languageOptions: { globals: { window: "readonly", document: "readonly", localStorage: "readonly", EventSource: "readonly", navigator: "readonly", FormData: "readonly", AbortController: "readonly", TextDecoder: "readonly", location: "readonly", history: "readonly", alert: "readonly", confirm: "readonly", XMLHttpRequest: "readonly", HTMLElement: "readonly", customElements: "readonly" } },
  },
  { files: ["scripts/**/*.js", "scripts/**/*.ts", "bin/**/*.js", "bench/**/*.ts", "test/**/*.ts"], rules: { "no-console": "off" } },
);
