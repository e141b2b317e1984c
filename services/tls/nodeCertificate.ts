import { createHash, generateKeyPairSync, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";
import { writePrivateFile } from "../../core/fs/writePrivateFile.js";

/**
 * The node's own HTTPS certificate: a small local CA (kept for years, so an
 * owner trusts it once) and a server certificate it signs for the node's
 * names and addresses, remade when they change. Keys are RSA from
 * node:crypto (native, fast on a Pi); node-forge only writes the X.509.
 */
export interface TlsMaterial {
  key: string;
  cert: string;
  caCert: string;
  /** SHA-256 of the server certificate, as browsers show it (AA:BB:…). */
  fingerprint: string;
  caFingerprint: string;
  /** The names and addresses the server certificate covers. */
  names: string[];
  ips: string[];
}

const DAY = 86_400_000;
/** Browsers refuse longer-lived server certificates; the node renews well before. */
const SERVER_DAYS = 397;
const RENEW_DAYS = 30;
const CA_YEARS = 20;
/**
 * A Pi without a real-time clock may start with a wrong date until it syncs:
 * certificates made then are valid from a fixed date in the past, so they are
 * not "not yet valid" once the clock is right.
 */
const EARLIEST = Date.UTC(2025, 0, 1);

function rsaKeys(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

function serialNumber(): string {
  // Positive, 16 bytes: the top bit clear.
  const b = forge.random.getBytesSync(16);
  return (b.charCodeAt(0) & 0x7f).toString(16).padStart(2, "0") + forge.util.bytesToHex(b.slice(1));
}

function validity(cert: forge.pki.Certificate, now: number, days: number): void {
  cert.validity.notBefore = new Date(Math.min(now - DAY, EARLIEST));
  cert.validity.notAfter = new Date(Math.max(now, EARLIEST) + days * DAY);
}

function makeCa(nodeLabel: string, now: number): { keyPem: string; certPem: string } {
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serialNumber();
  validity(cert, now, CA_YEARS * 365);
  const subject = [{ name: "commonName", value: `Sovereign Node local CA (${nodeLabel})` }, { name: "organizationName", value: "Sovereign Node" }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { keyPem: keys.privatePem, certPem: forge.pki.certificateToPem(cert) };
}

function makeServer(ca: { keyPem: string; certPem: string }, names: string[], ips: string[], now: number): { keyPem: string; certPem: string } {
  const keys = rsaKeys();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serialNumber();
  validity(cert, now, SERVER_DAYS);
  cert.setSubject([{ name: "commonName", value: names[0] ?? "sovereign.local" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: [...names.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))] },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { keyPem: keys.privatePem, certPem: forge.pki.certificateToPem(cert) };
}

/** What the server certificate must cover, in a stable order, so a change is noticed. */
function coverage(names: readonly string[], ips: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify([[...new Set(names)].sort(), [...new Set(ips)].sort()])).digest("hex");
}

function needsNew(certPem: string, wanted: string, coveredPath: string, now: number): boolean {
  if (!existsSync(coveredPath) || readFileSync(coveredPath, "utf8").trim() !== wanted) return true;
  const c = new X509Certificate(certPem);
  return Date.parse(c.validTo) - now < RENEW_DAYS * DAY;
}

/**
 * Loads the node's CA and server certificate from <dataDir>/tls, making the
 * CA at first start and the server certificate whenever the names or
 * addresses change or it nears its end. Keys are 0600, the folder 0700.
 */
export function ensureNodeCertificate(dataDir: string, opts: { nodeLabel: string; names: readonly string[]; ips: readonly string[]; now?: number }): TlsMaterial & { created: boolean } {
  const dir = join(dataDir, "tls");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const now = opts.now ?? Date.now();
  const p = { caKey: join(dir, "ca.key"), caCert: join(dir, "ca.crt"), key: join(dir, "server.key"), cert: join(dir, "server.crt"), covered: join(dir, "server.covers") };
  let created = false;
  if (!existsSync(p.caKey) || !existsSync(p.caCert)) {
    const ca = makeCa(opts.nodeLabel, now);
    writePrivateFile(p.caKey, ca.keyPem);
    writeFileSync(p.caCert, ca.certPem, { mode: 0o644 });
    created = true;
  }
  const names = [...new Set(opts.names.map((n) => n.toLowerCase()))];
  const ips = [...new Set(opts.ips)];
  const wanted = coverage(names, ips);
  const ca = { keyPem: readFileSync(p.caKey, "utf8"), certPem: readFileSync(p.caCert, "utf8") };
  if (created || !existsSync(p.cert) || !existsSync(p.key) || needsNew(readFileSync(p.cert, "utf8"), wanted, p.covered, now)) {
    const server = makeServer(ca, names, ips, now);
    writePrivateFile(p.key, server.keyPem);
    writeFileSync(p.cert, `${server.certPem}${ca.certPem}`, { mode: 0o644 });
    writeFileSync(p.covered, `${wanted}\n`, { mode: 0o644 });
    created = true;
  }
  chmodSync(p.caKey, 0o600);
  chmodSync(p.key, 0o600);
  const cert = readFileSync(p.cert, "utf8");
  return {
    key: readFileSync(p.key, "utf8"),
    cert,
    caCert: ca.certPem,
    fingerprint: new X509Certificate(cert).fingerprint256,
    caFingerprint: new X509Certificate(ca.certPem).fingerprint256,
    names,
    ips,
    created,
  };
}
