import { describe, expect, it } from "vitest";
import BetterSqlite3 from "better-sqlite3";
import { authMigrations } from "../../services/auth/schema.js";
import { LoginThrottle } from "../../services/auth/LoginThrottle.js";
import { QuotaLedger } from "../../services/auth/QuotaLedger.js";
import { UserStore } from "../../services/auth/UserStore.js";

/** The auth tables in an in-memory SQLite, with a clock the test moves. */
function setup(start = Date.UTC(2026, 10, 21, 10, 30)) {
  const db = new BetterSqlite3(":memory:");
  for (const m of authMigrations) m.up(db);
  const clock = { t: start };
  return { db, clock, now: () => clock.t };
}

describe("LoginThrottle", () => {
  const policy = { maxFailures: 3, baseLockMs: 60_000, maxLockMs: 600_000 };

  it("locks after the limit and doubles the lock with each further failure, up to the cap", () => {
    const { db, clock, now } = setup();
    const th = new LoginThrottle(db, now);
    expect([th.fail("user:a", policy), th.fail("user:a", policy)]).toEqual([0, 0]);
    expect(th.fail("user:a", policy)).toBe(60_000);
    expect(th.lockedFor(["user:a", "ip:x"])).toBe(60_000);
    clock.t += 60_000;
    expect(th.lockedFor(["user:a"])).toBe(0);
    expect(th.fail("user:a", policy)).toBe(120_000);
    clock.t += 120_000;
    expect(th.fail("user:a", policy)).toBe(240_000);
    clock.t += 240_000;
    expect(th.fail("user:a", policy)).toBe(480_000);
    clock.t += 480_000;
    expect(th.fail("user:a", policy)).toBe(600_000);
    th.clear("user:a");
    expect(th.lockedFor(["user:a"])).toBe(0);
  });

  it("forgets old failures", () => {
    const { db, clock, now } = setup();
    const th = new LoginThrottle(db, now);
    th.fail("user:a", policy);
    th.fail("user:a", policy);
    clock.t += 600_001;
    expect(th.fail("user:a", policy)).toBe(0);
  });
});

describe("QuotaLedger", () => {
  it("counts per clock hour and per UTC day, and says when each resets", () => {
    const { db, clock, now } = setup(Date.UTC(2026, 10, 21, 23, 59, 30));
    const q = new QuotaLedger(db, now);
    q.add("user:u", 40);
    q.add("user:u", 2);
    q.add("user:v", 1000);
    let [hour, day] = q.usage("user:u", { perHour: 50, perDay: 100 });
    expect(hour).toEqual({ window: "hour", used: 42, limit: 50, resetsAt: "2026-11-22T00:00:00.000Z" });
    expect(day).toEqual({ window: "day", used: 42, limit: 100, resetsAt: "2026-11-22T00:00:00.000Z" });
    clock.t += 60_000; // a new hour and a new day
    [hour, day] = q.usage("user:u", { perHour: null, perDay: null });
    expect([hour.used, day.used]).toEqual([0, 0]);
    q.add("user:u", 5);
    clock.t += 3_600_000;
    [hour, day] = q.usage("user:u", { perHour: null, perDay: null });
    expect([hour.used, day.used]).toEqual([0, 5]);
    expect(hour.resetsAt).toBe("2026-11-22T02:00:00.000Z");
  });
});

describe("UserStore claim", () => {
  it("claims once; a second claim finds setup closed", () => {
    const { db, now } = setup();
    const users = new UserStore(db, now);
    expect(users.isClaimed()).toBe(false);
    users.claim("first", "scrypt$x");
    expect(users.isClaimed()).toBe(true);
    expect(() => users.claim("second", "scrypt$x")).toThrow(expect.objectContaining({ code: "SETUP_CLOSED" }));
    expect(users.list().map((u) => u.username)).toEqual(["first"]);
  });

  it("refuses to lose the last enabled admin", () => {
    const { db, now } = setup();
    const users = new UserStore(db, now);
    const a = users.claim("a", "h");
    expect(() => users.update(a.id, { disabled: true })).toThrow(expect.objectContaining({ code: "LAST_ADMIN" }));
    const b = users.create("b", "h", "admin");
    users.update(a.id, { role: "user" });
    expect(() => users.delete(b.id)).toThrow(expect.objectContaining({ code: "LAST_ADMIN" }));
    expect(() => users.create("B", "h", "user")).toThrow(expect.objectContaining({ code: "USER_EXISTS" }));
    expect(() => users.create("../x", "h", "user")).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });
});
