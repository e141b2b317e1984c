// Shared by the image e2e suites: the booted node's status line fields, and requests to its forwarded
// HTTPS port that are answered only by the certificate the console printed.
import { createReadStream, statSync } from "node:fs";
import { request } from "node:https";
import { connect, type TLSSocket } from "node:tls";
import { readText, type Vm } from "./imageQemu.js";

/** One `key=value` of the SOVSTATUS line (values have no spaces). */
export function field(line: string, key: string): string {
  const m = new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line);
  if (!m?.[1]) throw new Error(`no ${key}= in ${line}`);
  return m[1];
}

/** A `key=[a,b,]` list of the SOVSTATUS line. */
export function list(line: string, key: string): string[] {
  return field(line, key).replace(/^\[|\]$/g, "").split(",").filter(Boolean);
}

/** The SHA-256 fingerprint (colon hex, as `sovereign node` prints it) of the certificate served on `port`. */
export async function servedFingerprint(port: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, servername: "sovereign.local" }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on("error", reject);
  });
}

/** A JSON request to the forwarded HTTPS port, answered only by the certificate whose SHA-256 fingerprint is `pinned`. */
export async function httpsJson(port: number, pinned: string, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; cookies: string[] }> {
  const payload = JSON.stringify(body);
  return await new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method, path, rejectUnauthorized: false, servername: "sovereign.local", timeout: 10 * 60_000,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers } },
      (res) => {
        const served = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        if (served !== pinned) return reject(new Error(`served certificate ${served} is not the console's ${pinned}`));
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: (text ? JSON.parse(text) : {}) as Record<string, unknown>, cookies: res.headers["set-cookie"] ?? [] }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Rethrows a failed request with the node's and the kernel's journal, as the status unit follows them on the second serial port. */
export function withJournal(vm: Vm, what: string): (err: Error) => never {
  return (err) => {
    const journal = readText(vm.serial1).split("\n").filter((l) => /SOV(JOURNAL|KERNEL)/.test(l)).slice(-80).join("\n");
    throw new Error(`${what}: ${err.message}\n${journal}`);
  };
}


/** Streams a file as the body (application/octet-stream) to the forwarded HTTPS port, pinned like httpsJson. */
export async function httpsUpload(port: number, pinned: string, path: string, file: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return await new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path, rejectUnauthorized: false, servername: "sovereign.local", timeout: 20 * 60_000,
        headers: { "content-type": "application/octet-stream", "content-length": statSync(file).size, ...headers } },
      (res) => {
        const served = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        if (served !== pinned) return reject(new Error(`served certificate ${served} is not the console's ${pinned}`));
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`POST ${path} timed out`)));
    req.on("error", reject);
    createReadStream(file).pipe(req);
  });
}
