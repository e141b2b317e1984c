import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

// The panel's module is plain browser JS (no types, no build step); it has no DOM use, so Node runs it as is.
const modulePath = pathToFileURL(join(import.meta.dirname, "..", "..", "web-ui", "static", "js", "cronText.js")).href;
const { describeCron } = (await import(modulePath)) as { describeCron: (expr: unknown) => string | null };

describe("describeCron (Jobs page: schedules in plain language)", () => {
  it.each([
    ["* * * * *", "every minute"],
    ["*/5 * * * *", "every 5 minutes"],
    ["*/15 * * * *", "every 15 minutes"],
    ["0 * * * *", "every hour, on the hour"],
    ["15 * * * *", "every hour at :15"],
    ["30 */6 * * *", "every 6 hours at :30"],
    ["30 3 * * *", "every night at 03:30"],
    ["15 3 * * *", "every night at 03:15"],
    ["0 7 * * *", "every morning at 07:00"],
    ["0 13 * * *", "every day at 13:00"],
    ["30 19 * * *", "every evening at 19:30"],
    ["0 23 * * *", "every night at 23:00"],
    ["0 8,20 * * *", "every day at 08:00 and 20:00"],
    ["30 4 * * 0", "every Sunday at 04:30"],
    ["30 4 * * 7", "every Sunday at 04:30"],
    ["30 4 * * sun", "every Sunday at 04:30"],
    ["0 9 * * 1-5", "every weekday at 09:00"],
    ["0 10 * * 6,0", "every weekend day at 10:00"],
    ["0 9 * * 1,3", "every Monday and Wednesday at 09:00"],
    ["0 2 1 * *", "on the 1st of every month at 02:00"],
    ["0 2 22 * *", "on the 22nd of every month at 02:00"],
    ["0 2 11 * *", "on the 11th of every month at 02:00"],
    ["0 0 25 12 *", "every year on December 25 at 00:00"],
    ["0 30 3 * * *", "every night at 03:30"],
  ])("%s → %s", (expr, words) => {
    expect(describeCron(expr)).toBe(words);
  });

  it.each([
    ["nonsense"],
    ["61 3 * * *"],
    ["0 25 * * *"],
    ["*/5 1-3 * * *"],
    ["0 3 1 * 1"],
    ["15 0 3 * * *"],
    ["1,2 3 * * *"],
    [""],
    [42],
  ])("is unsure about %s and says nothing (null)", (expr) => {
    expect(describeCron(expr)).toBeNull();
  });
});
