import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of the auth service: sessions, login throttling, password hashing, setup code and quotas. */
export const authSettings = [
  setting.integer({
    key: "auth.sessionIdleMinutes", env: "SOVEREIGN_SESSION_IDLE_MINUTES", flag: "--session-idle-minutes", default: 120, min: 1, max: 43_200,
    help: "A session unused for this long ends; the user logs in again.",
  }),
  setting.integer({
    key: "auth.sessionMaxHours", env: "SOVEREIGN_SESSION_MAX_HOURS", flag: "--session-max-hours", default: 24, min: 1, max: 8760,
    help: "A session ends this long after login however busy it is (absolute expiry).",
  }),
  setting.enum({
    key: "auth.secureCookies", env: "SOVEREIGN_SECURE_COOKIES", flag: "--secure-cookies", values: ["auto", "always"] as const, default: "auto",
    help: "\"auto\" marks cookies Secure when the request came over HTTPS; \"always\" does so behind a TLS-terminating proxy.",
  }),
  setting.integer({
    key: "auth.loginMaxFailures", env: "SOVEREIGN_LOGIN_MAX_FAILURES", flag: "--login-max-failures", default: 5, min: 1, max: 100,
    help: "Failed logins for one user name (or ten times as many from one address) before login is locked.",
  }),
  setting.integer({
    key: "auth.lockoutSeconds", env: "SOVEREIGN_LOCKOUT_SECONDS", flag: "--lockout-seconds", default: 60, min: 1, max: 86_400,
    help: "The first lockout; each further failure doubles it, up to auth.lockoutMaxSeconds.",
  }),
  setting.integer({
    key: "auth.lockoutMaxSeconds", env: "SOVEREIGN_LOCKOUT_MAX_SECONDS", flag: "--lockout-max-seconds", default: 3600, min: 1, max: 604_800,
    help: "The longest a login lockout lasts.",
  }),
  setting.integer({
    key: "auth.scryptLogN", env: "SOVEREIGN_SCRYPT_LOG_N", flag: "--scrypt-log-n", default: 16, min: 14, max: 20,
    help: "scrypt cost for new password hashes as log2(N), with r=8, p=1: 16 uses 64 MiB per hash. Old hashes keep their own cost.",
  }),
  setting.optionalPath({
    key: "auth.setupCodeFile", env: "SOVEREIGN_SETUP_CODE_FILE", flag: "--setup-code-file",
    help: "Where the one-time setup code is kept (mode 0600) until the node is claimed. Defaults to <dataDir>/setup-code.",
  }),
  setting.integer({
    key: "auth.setupBannerMinutes", env: "SOVEREIGN_SETUP_BANNER_MINUTES", flag: "--setup-banner-minutes", default: 10, min: 0, max: 1440,
    help: "While the node is unclaimed, the console banner with the setup code and URLs is printed again this often, so it is never scrolled away (0: only at start).",
  }),
  setting.integer({
    key: "auth.quotaTokensPerHour", env: "SOVEREIGN_QUOTA_TOKENS_PER_HOUR", flag: "--quota-tokens-per-hour", default: 0, min: 0,
    help: "Default tokens a non-admin user may use per clock hour (0: no limit). Admins set per-user and per-key limits in the UI.",
  }),
  setting.integer({
    key: "auth.quotaTokensPerDay", env: "SOVEREIGN_QUOTA_TOKENS_PER_DAY", flag: "--quota-tokens-per-day", default: 0, min: 0,
    help: "Default tokens a non-admin user may use per UTC day (0: no limit).",
  }),
  setting.list({
    key: "auth.recoveryDirs", env: "SOVEREIGN_RECOVERY_DIRS", flag: "--recovery-dirs", default: [],
    help: "Folders searched every 30 s for sovereign-recovery.txt (regenerate-setup-code, or reset-admin-password [USERNAME]): recovery by whoever can write the node's boot partition. Empty: the data directory. Images name the boot partition.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof authSettings> {}
}
