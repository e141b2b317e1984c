import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** HTTPS on the LAN. */
export const tlsSettings = [
  setting.enum({
    key: "server.tls", env: "SOVEREIGN_TLS", flag: "--tls", values: ["auto", "on", "off"] as const, default: "auto",
    help: "Serve HTTPS with the node's own certificate (a local CA in <dataDir>/tls). \"auto\": on when server.host is not a loopback address, so the panel, the setup code and API keys never cross the LAN in clear text.",
  }),
  setting.integer({
    key: "server.httpsPort", env: "SOVEREIGN_HTTPS_PORT", flag: "--https-port", default: 8443, min: 0, max: 65535,
    help: "TCP port of HTTPS when it is on. server.port then answers /healthz and loopback callers, and redirects everything else here.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof tlsSettings> {}
}
