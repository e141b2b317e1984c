import { h, replace, fmtBytes, table, statusLine } from "../h.js";
import { api, explain, signalUnauthenticated } from "../api.js";
import { setupChecklist } from "../checklist.js";

export const title = "Dashboard";

const pct = (v) => (typeof v === "number" ? `${v.toFixed(0)} %` : "–");
const num = (v, d = 1) => (typeof v === "number" ? v.toFixed(d) : "–");

function meter(label, value, max, text, { high, low } = {}) {
  const id = `m-${label.replace(/\W+/g, "-").toLowerCase()}`;
  return h(
    "div",
    { class: "card" },
    h("h2", { id }, label),
    h("p", { class: "stat" }, text),
    typeof value === "number" ? h("meter", { min: 0, max, value, high, low, optimum: 0, "aria-labelledby": id }) : null,
  );
}

function throttlingText(t) {
  if (!t) return { text: "Not reported", detail: "This machine exposes no throttle state." };
  if (t.source === "rpi-firmware") {
    const now = [t.underVoltage && "under-voltage", t.frequencyCapped && "frequency capped", t.throttled && "throttled", t.softTempLimit && "soft temperature limit"].filter(Boolean);
    return { text: now.length ? now.join(", ") : "None", detail: t.occurredSinceBoot ? `Happened since boot (${t.raw}).` : `Nothing since boot (${t.raw}).` };
  }
  return { text: t.throttled ? "Throttling" : "None", detail: `${t.events} thermal throttle events since boot.` };
}

// Admins get links to the pages that fix what is missing; others cannot open those pages.
let isAdmin = false;

function liveCards(live) {
  const mem = live.memory;
  const thr = throttlingText(live.throttling);
  const inf = live.inference;
  const disk = live.disk;
  return [
    meter("CPU", live.cpu?.percent, 100, pct(live.cpu?.percent), { high: 85 }),
    meter("Memory", mem?.usedBytes, mem?.totalBytes ?? 1, mem ? `${fmtBytes(mem.usedBytes)} of ${fmtBytes(mem.totalBytes)}` : "–", { high: (mem?.totalBytes ?? 1) * 0.9 }),
    meter("Temperature", live.temperatureC, 100, typeof live.temperatureC === "number" ? `${num(live.temperatureC)} °C` : "Not reported", { high: 80 }),
    h("div", { class: "card" }, h("h2", null, "Throttling"), h("p", { class: "stat" }, thr.text), h("p", { class: "muted" }, thr.detail)),
    h(
      "div",
      { class: "card" },
      h("h2", null, "Inference"),
      inf
        ? h("dl", { class: "facts" },
          h("dt", null, "Model"), h("dd", null, inf.model ?? (isAdmin ? h("span", null, "none loaded · ", h("a", { href: "#/models" }, "add or load a model")) : "none loaded (an admin adds models)")),
          h("dt", null, "Tokens/s"), h("dd", null, num(inf.tokensPerSecond)),
          h("dt", null, "Running"), h("dd", null, inf.active ?? "–"),
          h("dt", null, "Queued"), h("dd", null, inf.queued ?? "–"))
        : h("p", { class: "muted" }, "The inference service is not running."),
    ),
    meter("Disk", disk?.usedBytes, disk?.totalBytes ?? 1, disk ? `${fmtBytes(disk.freeBytes)} free of ${fmtBytes(disk.totalBytes)}` : "–", { high: (disk?.totalBytes ?? 1) * 0.9 }),
  ];
}

function hardwareFacts(hw) {
  const rows = [
    ["Machine", hw.model ?? "unknown"],
    ["Board", hw.boardId ?? "not a known board"],
    ["Architecture", hw.arch],
    ["CPU", `${hw.cpu.model ?? "unknown"}: ${hw.cpu.usableCpus} usable of ${hw.cpu.logicalCpus} logical, ${hw.cpu.physicalCores} physical cores${hw.cpu.efficiencyCores ? ` (${hw.cpu.performanceCores} performance + ${hw.cpu.efficiencyCores} efficiency)` : ""}`],
    ["CPU features", Object.entries(hw.cpu.features ?? {}).filter(([, v]) => v).map(([k]) => k).join(", ") || "none detected"],
    ["Memory", `${fmtBytes(hw.memory.usableBytes)} usable of ${fmtBytes(hw.memory.totalBytes)}`],
    ["GPU", `${hw.gpu.name ?? hw.gpu.kind}${hw.gpu.usable ? " (used)" : " (not used)"}${hw.gpu.note ? `: ${hw.gpu.note}` : ""}`],
    ["Boot medium", hw.bootMedium],
  ];
  if (hw.l4tRelease) rows.push(["L4T", hw.l4tRelease]);
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

// "modelRamBudgetMb" → "Model RAM budget (MB)": the tuning keys, as a person reads them.
const humanize = (key) =>
  key
    .replace(/Mb$/, " (MB)")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .replace(/^./, (c) => c.toUpperCase())
    .replace(/ ([A-Z])([a-z])/g, (_m, a, b) => ` ${a.toLowerCase()}${b}`)
    .replace(/\bram\b/i, "RAM")
    .replace(/\bgpu\b/i, "GPU")
    .replace(/\bsqlite\b/i, "SQLite");
const show = (v) => (v && typeof v === "object" ? Object.entries(v).map(([k, x]) => `${k} ${x}`).join(", ") : String(v));

export function render(root, ctx) {
  isAdmin = ctx?.user?.role === "admin";
  const status = statusLine("Loading…");
  const live = h("div", { class: "grid", id: "live" });
  const facts = h("section", { class: "card", "aria-labelledby": "hw-title" }, h("h2", { id: "hw-title" }, "Hardware"));
  const tuning = h("section", { class: "card", "aria-labelledby": "tuning-title" }, h("h2", { id: "tuning-title" }, "Tuning"));
  const liveState = statusLine();
  root.append(
    h("h1", null, "Dashboard"),
    status,
    ctx?.user?.role === "admin" ? setupChecklist().card : null,
    h("section", { "aria-labelledby": "live-title" }, h("h2", { id: "live-title", class: "sr-only" }, "Live"), live, liveState),
    facts,
    tuning,
  );

  let events = null;
  let closed = false;
  api("/api/status")
    .then((s) => {
      if (closed) return;
      status.textContent = `${s.node.name} · up ${Math.round(s.node.uptimeSeconds / 60)} min`;
      replace(live, liveCards(s.live));
      // Identity and certificate fingerprints: what an owner compares when pairing a peer or trusting the node's HTTPS certificate.
      facts.append(h("p", { class: "muted" }, `Node ${s.node.id} · fingerprint ${s.node.fingerprint}${s.node.certificateFingerprint ? ` · HTTPS certificate SHA-256 ${s.node.certificateFingerprint}` : ""}`));
      facts.append(hardwareFacts(s.hardware));
      if (s.hardware.warnings?.length) facts.append(h("ul", { class: "muted" }, s.hardware.warnings.map((w) => h("li", null, w))));
      tuning.append(
        h("p", { class: "muted" }, "What this node chose for its hardware, and why. Overrides in the config always win."),
        table("Tuning", ["Setting", "Value", "Why", "Source"], s.tuning.map((t) => [h("span", { title: t.key }, humanize(t.key)), show(t.value), t.reason, h("span", { class: "badge" }, t.source)])),
      );
      events = new EventSource("/api/events");
      events.addEventListener("live", (e) => {
        replace(live, liveCards(JSON.parse(e.data)));
        liveState.textContent = "";
      });
      events.addEventListener("expired", () => {
        events.close();
        signalUnauthenticated();
      });
      events.onerror = () => {
        liveState.textContent = "Live updates interrupted; retrying…";
      };
    })
    .catch((err) => {
      status.textContent = "";
      status.append(h("span", { class: "error" }, explain(err)));
    });
  return () => {
    closed = true;
    events?.close();
  };
}
