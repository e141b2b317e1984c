// Shared by the image e2e suites: the booted node's status line fields, and requests to its forwarded
// HTTPS port that are answered only by the certificate the console printed.
import { createReadStream, statSync } from "node:fs";
import type { ClientRequest } from "node:http";
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

/**
 * One request on its own TLS connection (no keep-alive), refused unless the certificate the handshake
 * presented has the SHA-256 fingerprint `pinned`. The fingerprint is read at the handshake, not from the
 * response's socket, which a node closing the connection under load may already have torn down.
 */
function pinnedRequest(port: number, pinned: string, method: string, path: string, headers: Record<string, string | number>, send: (req: ClientRequest) => void): Promise<{ status: number; text: string; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    let served: string | undefined;
    const req = request({ host: "127.0.0.1", port, method, path, rejectUnauthorized: false, servername: "sovereign.local", timeout: 20 * 60_000, agent: false, headers }, (res) => {
      if (served !== pinned) {
        res.resume();
        return reject(new Error(`served certificate ${served} is not the console's ${pinned}`));
      }
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, cookies: res.headers["set-cookie"] ?? [] }));
    });
    req.on("socket", (socket) => (socket as TLSSocket).once("secureConnect", () => (served = (socket as TLSSocket).getPeerCertificate().fingerprint256)));
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    send(req);
  });
}

const parse = (text: string): Record<string, unknown> => (text ? JSON.parse(text) : {}) as Record<string, unknown>;

/** A JSON request to the forwarded HTTPS port, answered only by the certificate whose SHA-256 fingerprint is `pinned`. */
export async function httpsJson(port: number, pinned: string, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; cookies: string[] }> {
  // No body (a GET): no content-type either.
  const payload = body === undefined ? "" : JSON.stringify(body);
  const type: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
  const r = await pinnedRequest(port, pinned, method, path, { ...type, "content-length": Buffer.byteLength(payload), ...headers }, (req) => req.end(payload));
  return { status: r.status, json: parse(r.text), cookies: r.cookies };
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
  const r = await pinnedRequest(port, pinned, "POST", path, { "content-type": "application/octet-stream", "content-length": statSync(file).size, ...headers }, (req) => createReadStream(file).pipe(req));
  return { status: r.status, json: parse(r.text) };
}
