import fp from "fastify-plugin";
import type { Config } from "../../core/config/Config.js";
import { hostOf, interfaceAddresses, isLoopbackAddress, nodeNames } from "../auth/hostCheck.js";
import { X509Certificate } from "node:crypto";
import { clockUntrusted, describeClock, readClockState } from "../../hardware/clockState.js";
import { ensureNodeCertificate, type TlsMaterial } from "./nodeCertificate.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The node's certificate when HTTPS is on, else null. */
    tls: TlsMaterial | null;
  }
}

/** HTTPS is on when asked, or ("auto") whenever the node listens beyond loopback. */
export function tlsEnabled(config: Pick<Config, "server.tls" | "server.host">): boolean {
  const mode = config["server.tls"];
  if (mode !== "auto") return mode === "on";
  const host = config["server.host"];
  return !(host === "localhost" || isLoopbackAddress(host));
}

/** Plain HTTP that stays plain: health probes (load balancers, systemd, the image tests) and this machine itself. */
export function servedOverHttp(request: { url?: string | undefined; socket: { remoteAddress?: string | undefined } }): boolean {
  const path = (request.url ?? "/").split("?")[0];
  return path === "/healthz" || isLoopbackAddress(request.socket.remoteAddress);
}

/**
 * services/tls: the node's certificate (made at first start, remade when its
 * names or addresses change) and the redirect of plain HTTP to HTTPS. The
 * HTTPS listener itself is opened by the composition root (appliance/server.ts).
 */
export const tlsPlugin = fp(
  async (app) => {
    const cfg = app.config;
    if (!tlsEnabled(cfg)) {
      app.decorate("tls", null);
      return;
    }
    const identity = app.identity;
    const names = [...nodeNames(cfg["server.allowedHosts"], cfg["node.name"]), `sovereign-${identity.nodeId.slice(0, 8)}.local`, "localhost"];
    const ips = [...new Set(["127.0.0.1", "::1", ...interfaceAddresses()])];
    const material = ensureNodeCertificate(cfg["paths.dataDir"], { nodeLabel: identity.nodeId.slice(0, 8), names, ips });
    if (material.created) app.log.info({ fingerprint: material.fingerprint }, "made the node's HTTPS certificate");
    // Renewal is decided against the clock: on a board without an RTC that has not reached NTP yet the
    // clock may be behind, so the decision may be wrong. Say so (the certificate still serves; the next
    // start after the clock is right decides again).
    const clock = readClockState();
    if (clockUntrusted(clock)) {
      const c = new X509Certificate(material.cert);
      app.log.warn({ clock: describeClock(clock), validFrom: c.validFrom, validTo: c.validTo, created: material.created },
        "the HTTPS certificate's validity was checked against a clock that is not synchronized yet; it is checked again at the next start");
    }
    app.decorate("tls", material);

    const httpsPort = cfg["server.httpsPort"];
    app.addHook("onRequest", async (request, reply) => {
      if (request.protocol === "https" || servedOverHttp(request.raw)) return;
      const host = hostOf(request.headers.host);
      if (!host) return; // the access hook refuses it
      const shown = host.includes(":") ? `[${host}]` : host;
      return reply.code(308).header("location", `https://${shown}:${httpsPort}${request.url}`).send();
    });

    // The CA certificate is public by nature: owners fetch it to trust the node before they log in.
    app.get("/tls/ca.crt", { config: { access: "public" } }, async (_request, reply) =>
      reply.type("application/x-x509-ca-cert").header("content-disposition", 'attachment; filename="sovereign-node-ca.crt"').send(material.caCert),
    );
  },
  { name: "sovereign-tls", dependencies: ["sovereign-context", "sovereign-identity"] },
);
