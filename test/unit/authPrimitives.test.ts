import { describe, expect, it } from "vitest";
import { hashCost, hashPassword, passwordAcceptable, verifyPassword } from "../../services/auth/passwords.js";
import { generateApiKey, generateSetupCode, normalizeSetupCode, safeEqual, setupCodeAcceptable, sha256 } from "../../services/auth/secrets.js";
import { effectiveKeyScopes, roleScopes, scopes } from "../../services/auth/scopes.js";
import { hostAllowed, hostOf, isLoopbackAddress } from "../../services/auth/hostCheck.js";

describe("passwords (scrypt)", () => {
  it("hashes with a per-hash salt and verifies only the right password", async () => {
    const a = await hashPassword("correct horse battery", 14);
    const b = await hashPassword("correct horse battery", 14);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$14\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(await verifyPassword("correct horse battery", a)).toBe(true);
    expect(await verifyPassword("correct horse batterY", a)).toBe(false);
    expect(hashCost(a)).toBe(14);
  });

  it("treats malformed hashes as a mismatch, never an error", async () => {
    for (const bad of ["", "plain", "scrypt$14$8$1$abc", "bcrypt$1$2$3$4$5", "scrypt$99$8$1$AAAA$AAAA"]) expect(await verifyPassword("x", bad)).toBe(false);
  });

  it("accepts 10 to 256 characters", () => {
    expect(passwordAcceptable("123456789")).toBe(false);
    expect(passwordAcceptable("1234567890")).toBe(true);
    expect(passwordAcceptable("x".repeat(257))).toBe(false);
  });
});

describe("secrets", () => {
  it("makes 80-bit setup codes in Crockford base32 and normalizes look-alikes", () => {
    const code = generateSetupCode();
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(new Set(Array.from({ length: 50 }, generateSetupCode)).size).toBe(50);
    expect(normalizeSetupCode("abcd-efgh o1l i")).toBe("ABCDEFGH0111");
    expect(setupCodeAcceptable(code)).toBe(true);
    expect(setupCodeAcceptable("1234")).toBe(false);
    expect(setupCodeAcceptable("UUUU-UUUU-UUUU-UUUU")).toBe(false);
  });

  it("makes API keys with 256 bits and compares in constant time", () => {
    const k = generateApiKey();
    expect(k).toMatch(/^sk-sov-[A-Za-z0-9_-]{43}$/);
    expect(sha256(k)).toHaveLength(64);
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abcd")).toBe(false);
  });
});

describe("permission table", () => {
  it("gives admins everything and narrows keys to their owner's role", () => {
    expect(roleScopes.admin).toEqual(scopes);
    expect(roleScopes.guest).not.toContain("memory:write");
    expect(roleScopes.user).not.toContain("admin");
    expect(effectiveKeyScopes(["chat", "admin", "memory:write"], "user")).toEqual(["chat", "memory:write"]);
    expect(effectiveKeyScopes(["chat", "memory:write"], "guest")).toEqual(["chat"]);
  });
});

describe("Host header parsing", () => {
  it("takes the host from names, IPv4 and bracketed IPv6, with or without a port", () => {
    expect(hostOf("Node.Local:8080")).toBe("node.local");
    expect(hostOf("node.local.")).toBe("node.local");
    expect(hostOf("192.168.1.5")).toBe("192.168.1.5");
    expect(hostOf("[FE80::1]:8080")).toBe("fe80::1");
    for (const bad of [undefined, "", "a b", "evil.example/x", "[::1", "[::1]x", "node:port", "user@node"]) expect(hostOf(bad)).toBeUndefined();
  });

  it("allows own names, localhost and loopback, nothing else", () => {
    const names = new Set(["sovereign-ab12", "sovereign-ab12.local"]);
    for (const ok of ["sovereign-ab12.local", "localhost", "app.localhost", "127.0.0.1", "127.8.9.10", "::1"]) expect(hostAllowed(ok, names)).toBe(true);
    for (const bad of ["sovereign-ab12.local.evil.example", "evil.example", "0.0.0.0", "10.0.0.1", "localhost.evil.example"]) expect(hostAllowed(bad, names)).toBe(false);
    expect(isLoopbackAddress("::ffff:127.0.0.1")).toBe(true);
    expect(isLoopbackAddress("192.168.1.2")).toBe(false);
    expect(isLoopbackAddress(undefined)).toBe(false);
  });
});
