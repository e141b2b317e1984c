import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Federation: broker, limits, discovery, offload and backup mirroring. Off until an admin turns it on. */
export const federationSettings = [
  setting.boolean({
    key: "federation.enabled", env: "SOVEREIGN_FEDERATION", flag: "--federation", default: false,
    help: "Join a federation: connect to (or host) the MQTT broker, publish the signed manifest and sync with approved peers. Off, the node talks to no one.",
  }),
  setting.enum({
    key: "federation.broker.mode", env: "SOVEREIGN_BROKER_MODE", flag: "--broker-mode",
    values: ["embedded", "external", "off"] as const, default: "embedded",
    help: "\"embedded\" hosts an MQTT broker in-process for the LAN and connects to it; \"external\" connects to federation.broker.url (Mosquitto, EMQX); \"off\" uses no broker.",
  }),
  setting.optionalString({
    key: "federation.broker.url", env: "SOVEREIGN_BROKER_URL", flag: "--broker-url",
    pattern: /^(mqtts?|wss?|tcp|ssl):\/\/.+/, patternHelp: "mqtt://host:port, mqtts://host:port, ws:// or wss://",
    help: "The external broker, in external mode. Defaults to none.",
  }),
  setting.string({
    key: "federation.broker.host", env: "SOVEREIGN_BROKER_HOST", flag: "--broker-host", default: "0.0.0.0",
    help: "Address the embedded broker listens on.",
  }),
  setting.integer({
    key: "federation.broker.port", env: "SOVEREIGN_BROKER_PORT", flag: "--broker-port", default: 1883, min: 0, max: 65535,
    help: "TCP port of the embedded broker (0 picks a free one).",
  }),
  setting.optionalString({
    key: "federation.broker.username", env: "SOVEREIGN_BROKER_USERNAME", flag: "--broker-username",
    help: "User name for the external broker. Defaults to none.",
  }),
  setting.optionalString({
    key: "federation.broker.password", env: "SOVEREIGN_BROKER_PASSWORD", flag: "--broker-password", secret: true,
    help: "Password for the external broker. Defaults to none.",
  }),
  setting.optionalPath({
    key: "federation.broker.caFile", env: "SOVEREIGN_BROKER_CA_FILE", flag: "--broker-ca-file",
    help: "PEM CA bundle that signs the external broker's TLS certificate. Defaults to the system's CAs.",
  }),
  setting.optionalPath({
    key: "federation.broker.certFile", env: "SOVEREIGN_BROKER_CERT_FILE", flag: "--broker-cert-file",
    help: "PEM client certificate for brokers that require mutual TLS. Defaults to none.",
  }),
  setting.optionalPath({
    key: "federation.broker.keyFile", env: "SOVEREIGN_BROKER_KEY_FILE", flag: "--broker-key-file",
    help: "PEM key of the client certificate. Defaults to none.",
  }),
  setting.boolean({
    key: "federation.broker.rejectUnauthorized", env: "SOVEREIGN_BROKER_REJECT_UNAUTHORIZED", flag: "--broker-reject-unauthorized", default: true,
    help: "Refuse a broker whose TLS certificate does not verify. Defaults to true.",
  }),
  setting.string({
    key: "federation.topicPrefix", env: "SOVEREIGN_TOPIC_PREFIX", flag: "--topic-prefix", default: "sovereign/v1",
    pattern: /^[A-Za-z0-9_\-/]{1,64}$/, patternHelp: "letters, digits, '_', '-' and '/' (at most 64), no wildcards",
    help: "Root of every federation topic; fleets sharing one broker keep it the same.",
  }),
  setting.integer({
    key: "federation.maxPayloadBytes", env: "SOVEREIGN_MAX_PAYLOAD_BYTES", flag: "--max-payload-bytes", default: 262_144, min: 4096, max: 16_777_216,
    help: "Largest MQTT payload sent or accepted; larger inbound payloads are dropped and counted.",
  }),
  setting.integer({
    key: "federation.manifestTtlSeconds", env: "SOVEREIGN_MANIFEST_TTL", flag: "--manifest-ttl", default: 3600, min: 60, max: 604_800,
    help: "How long a signed manifest stays valid; it is re-issued at a third of that.",
  }),
  setting.integer({
    key: "federation.clockSkewSeconds", env: "SOVEREIGN_CLOCK_SKEW", flag: "--clock-skew", default: 300, min: 0, max: 86_400,
    help: "Tolerated clock difference between nodes when checking issue and expiry times.",
  }),
  setting.integer({
    key: "federation.syncBatchSize", env: "SOVEREIGN_SYNC_BATCH", flag: "--sync-batch", default: 200, min: 1, max: 10_000,
    help: "Packets per delta-sync reply (also bounded by federation.maxPayloadBytes).",
  }),
  setting.boolean({
    key: "federation.discovery", env: "SOVEREIGN_DISCOVERY", flag: "--discovery", default: true,
    help: "Publish and browse _sovereign._tcp by DNS-SD on the LAN.",
  }),
  setting.boolean({
    key: "federation.offload.enabled", env: "SOVEREIGN_OFFLOAD", flag: "--offload", default: true,
    help: "Let chat requests go to a core peer with spare capacity, and serve core peers' requests.",
  }),
  setting.integer({
    key: "federation.offload.firstTokenTimeoutMs", env: "SOVEREIGN_OFFLOAD_FIRST_TOKEN_MS", flag: "--offload-first-token-ms", default: 20_000, min: 100,
    help: "How long to wait for a peer's first token before falling back to local inference.",
  }),
  setting.integer({
    key: "federation.offload.idleTimeoutMs", env: "SOVEREIGN_OFFLOAD_IDLE_MS", flag: "--offload-idle-ms", default: 15_000, min: 100,
    help: "Longest silence between streamed chunks before an offloaded request fails.",
  }),
  setting.integer({
    key: "federation.offload.breakerThreshold", env: "SOVEREIGN_OFFLOAD_BREAKER", flag: "--offload-breaker", default: 3, min: 1, max: 100,
    help: "Consecutive failures that open a peer's circuit breaker.",
  }),
  setting.integer({
    key: "federation.offload.breakerCooldownMs", env: "SOVEREIGN_OFFLOAD_COOLDOWN_MS", flag: "--offload-cooldown-ms", default: 30_000, min: 100,
    help: "How long an open breaker keeps a peer out before one trial request.",
  }),
  setting.boolean({
    key: "federation.backupMirror", env: "SOVEREIGN_BACKUP_MIRROR", flag: "--backup-mirror", default: true,
    help: "After each backup, send it to every core peer, sealed to this node's own X25519 key (peers hold ciphertext only).",
  }),
  setting.integer({
    key: "federation.backupMirrorKeep", env: "SOVEREIGN_BACKUP_MIRROR_KEEP", flag: "--backup-mirror-keep", default: 3, min: 1, max: 100,
    help: "How many mirrored backups this node holds for each peer; older ones are deleted when a newer one arrives.",
  }),
  setting.string({
    key: "federation.memoryUser", env: "SOVEREIGN_FEDERATION_MEMORY_USER", flag: "--federation-memory-user", default: "",
    pattern: /^[A-Za-z0-9_.@-]{0,128}$/, patternHelp: "a user name or id (letters, digits, '_', '.', '@', '-'), or empty for the node's owner",
    help: "Whose long-term memory federation shares: this user's own memories are published to core peers, and peers' memories land in this user's memory (a sandbox peer's in a quarantine kept out of search). Empty means the node's owner: its first admin, or the single local user before the node is claimed.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof federationSettings> {}
}
