import { h, replace, table, fmtTime, fmtBytes, field, statusLine, toast } from "../h.js";
import { api, upload, explain } from "../api.js";

export const title = "Updates";

const routes = {
  status: "/api/update",
  bundle: (allowDowngrade) => `/api/update/bundle${allowDowngrade ? "?allowDowngrade=1" : ""}`,
  restart: "/api/update/restart",
  applyPulled: "/api/update/pull/apply",
  peers: "/api/federation/peers",
};

const PHASES = { upload: "Uploading", pulling: "Downloading from a peer", pulled: "Downloaded and verified", verify: "Verifying the signature and every part", write: "Writing the inactive slot", readback: "Reading the slot back", done: "Done", failed: "Refused" };
/** Phases in which the node is doing something on its own, so the page follows it every second; otherwise it does not poll. */
const ACTIVE = new Set(["upload", "pulling", "verify", "write", "readback"]);

const pct = (done, total) => (total > 0 ? Math.floor((done / total) * 100) : 0);

/** How the pull reads to an owner: what, from whom, how far, and where it resumed. */
function pullSentence(pull, peer) {
  const v = pull.offer.version;
  const resumed = pull.resumedFrom > 0 ? `, resumed at ${fmtBytes(pull.resumedFrom)}` : "";
  switch (pull.phase) {
    case "pulling":
      return `Downloading ${v} from peer ${peer}: ${pct(pull.doneBytes, pull.totalBytes)} % (${fmtBytes(pull.doneBytes)} of ${fmtBytes(pull.totalBytes)})${resumed}`;
    case "verifying":
      return `Checking ${v}, downloaded from peer ${peer}: the signature and every part's SHA-256`;
    case "pulled":
      return `Version ${v} was downloaded from peer ${peer}${resumed} and verified. Nothing is written to the system slots until you apply it.`;
    case "applying":
      return `Applying ${v} from peer ${peer}`;
    case "applied":
      return `Version ${v} from peer ${peer} is written.`;
    default:
      return `The update ${v} from peer ${peer} failed${pull.error ? `: ${pull.error.message} (${pull.error.code})` : "."}`;
  }
}

function conditionBadge(c) {
  const cls = c === "good" ? "good" : c === "bad" || c === "incomplete" ? "bad" : "";
  return h("span", { class: `badge ${cls}` }, c);
}

function manifestView(m) {
  if (!m) return null;
  return h("div", null,
    h("h3", null, `Verified bundle: version ${m.version}`),
    h("p", { class: "hint" }, `Board ${m.board}, built ${fmtTime(m.createdAt)}. Signature and every part's SHA-256 checked.`),
    table("Parts of the bundle", ["Part", "Goes to", "Size", "SHA-256"], m.parts.map((p) => [p.name, p.target === "root" ? "system slot" : "boot files", fmtBytes(p.size), h("code", { class: "wrap" }, p.sha256)])));
}

export function render(root) {
  const statusBox = h("div");
  const rollbackBox = h("div");
  const pullBox = h("div");
  const offersBox = h("div");
  const progressBox = h("div");
  const restartBox = h("div");
  let timer = null;
  let closed = false;
  /** Peer names by node id, read once a pull shows up (federation may be off: then the id is shown). */
  let peerNames = null;

  async function peerName(nodeId) {
    if (!peerNames) {
      try {
        const r = await api(routes.peers);
        peerNames = new Map(r.peers.map((p) => [p.nodeId, p.name]));
      } catch {
        peerNames = new Map();
      }
    }
    return peerNames.get(nodeId) ?? `${nodeId.slice(0, 12)}…`;
  }

  async function refresh() {
    let s;
    try {
      s = await api(routes.status);
    } catch (err) {
      replace(statusBox, h("p", { class: "error" }, explain(err)));
      return;
    }
    replace(statusBox,
      s.configured ? null : h("p", { class: "hint" }, "This node has no A/B slots configured, so it cannot apply updates."),
      table("System slots", ["Slot", "Version", "State", "Booted"], s.slots.map((x) => [x.slot.toUpperCase(), x.version ?? "unknown", conditionBadge(x.condition), x.booted ? "yes (running now)" : ""])),
      h("dl", { class: "facts" },
        h("dt", null, "Running"), h("dd", null, `${s.runningVersion} on ${s.board}`),
        ...(s.bootedSlot ? [h("dt", null, "System slot"), h("dd", null, s.rootVerity ? `read-only, checked by dm-verity (root hash ${s.rootVerity.rootHash.slice(0, 16)}…)` : "read-write, not integrity-checked")] : []),
        h("dt", null, "Pending"), h("dd", null, s.pending ? `${s.pending.version} on slot ${s.pending.slot.toUpperCase()}${s.pending.restartRequestedAt ? " (restart requested)" : ""}` : "nothing"),
        h("dt", null, "On trial"), h("dd", null, !s.trial ? "no" : s.trial.unhealthy
          ? `${s.trial.version} on slot ${s.trial.slot.toUpperCase()}: the health check gave it up (${fmtTime(s.trial.unhealthy.at)}): ${s.trial.unhealthy.why}. The node restarts into the previous version.`
          : `${s.trial.version} on slot ${s.trial.slot.toUpperCase()}, waiting to be marked good`),
        h("dt", null, "Last result"), h("dd", null, s.lastResult ? `${s.lastResult.outcome} (${fmtTime(s.lastResult.at)}): ${s.lastResult.message}` : "none"),
        h("dt", null, "Last rollback"), h("dd", null, s.rollback ? `${s.rollback.failedVersion} (${fmtTime(s.rollback.at)}): ${s.rollback.reason}${s.rollback.data ? ` Data: ${s.rollback.data.summary}` : ""}` : "none")));
    replace(rollbackBox, s.rollback
      ? h("div", { class: "card notice", role: "status" },
        h("h3", null, `Version ${s.rollback.failedVersion} was rolled back`),
        h("p", null, `${fmtTime(s.rollback.at)}: ${s.rollback.reason}`),
        h("p", null, `The node went back to the previous version on slot ${s.rollback.failedSlot === "a" ? "B" : "A"} by itself.`),
        s.rollback.data ? h("p", null, `Data: ${s.rollback.data.summary}`) : null)
      : null);
    const offers = s.offers ?? [];
    replace(offersBox, h("p", null, `Shared with core peers: ${offers.length ? offers.map((o) => `${o.version} for ${o.board} (${fmtBytes(o.size)})`).join(", ") : "nothing"}`));
    const pull = s.pull;
    const p = s.progress;
    // The progress is the pull's when the pull started last (the API shows whichever started last).
    const progressIsPull = Boolean(pull && p && p.startedAt === pull.startedAt);
    if (pull) {
      const peer = await peerName(pull.peer);
      replace(pullBox,
        h("h3", null, "From a core peer"),
        h("p", null, pullSentence(pull, peer)),
        pull.phase === "pulling" || pull.phase === "verifying"
          ? h("progress", { max: 1, value: pull.totalBytes ? pull.doneBytes / pull.totalBytes : 0, "aria-label": "Download progress" })
          : null,
        pull.phase === "pulled"
          ? h("div", null,
            pull.manifest ? manifestView(pull.manifest) : h("p", { class: "hint" }, `Version ${pull.offer.version} for ${pull.offer.board}, ${fmtBytes(pull.offer.size)}, SHA-256 ${pull.offer.sha256}; verified before this node last started, and verified again when applied.`),
            h("button", { type: "button", onclick: applyPulled }, `Apply the update from ${peer}`))
          : null);
    } else {
      replace(pullBox);
    }
    if (p && progressIsPull && ["pulling", "pulled", "failed"].includes(p.phase)) {
      // Said above in the pull's own words.
      replace(progressBox);
    } else if (p) {
      const bar = h("progress", { max: 1, value: p.totalBytes ? p.doneBytes / p.totalBytes : 0, "aria-label": "Update progress" });
      replace(progressBox,
        h("p", null, `${PHASES[p.phase] ?? p.phase}${p.totalBytes && !["done", "failed"].includes(p.phase) ? `: ${fmtBytes(p.doneBytes)} of ${fmtBytes(p.totalBytes)}` : ""}`),
        ["done", "failed"].includes(p.phase) ? null : bar,
        p.error ? h("p", { class: "error" }, `${p.error.message} (${p.error.code})`) : null,
        manifestView(p.manifest));
      if (["done", "failed"].includes(p.phase) && upText.textContent.endsWith("verifying.")) upText.textContent = "";
    } else {
      replace(progressBox);
    }
    if (p && ACTIVE.has(p.phase)) schedule();
    replace(restartBox, s.pending && !s.pending.restartRequestedAt
      ? h("div", null,
        h("p", null, `Version ${s.pending.version} is written to slot ${s.pending.slot.toUpperCase()}. The node restarts into it for a trial; if it does not become healthy it comes back on this version by itself.`),
        h("button", { type: "button", onclick: restart }, "Restart into the update"))
      : null);
  }

  function schedule() {
    clearTimeout(timer);
    if (!closed) timer = setTimeout(() => void refresh(), 1000);
  }

  async function applyPulled() {
    try {
      await api(routes.applyPulled, { method: "POST" });
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }

  async function restart() {
    try {
      const r = await api(routes.restart, { method: "POST" });
      toast(`Restarting into ${r.version}. The panel comes back when the node is up.`);
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }

  const file = h("input", { type: "file", name: "bundle", accept: ".sovupdate", required: true });
  const downgrade = h("input", { type: "checkbox", name: "allowDowngrade" });
  const upProgress = h("progress", { max: 1, value: 0, "aria-label": "Upload progress", hidden: true });
  const upText = statusLine();
  const form = h("form", null,
    field("Update bundle (.sovupdate)", file, "Made with `sovereign image bundle`; nothing is written unless its signature, board, version and every part check out."),
    h("label", { class: "row" }, downgrade, " Allow an older version than the running one"),
    upProgress, upText,
    h("button", { type: "submit" }, "Upload and verify"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (!f) return;
    upProgress.hidden = false;
    upProgress.value = 0;
    try {
      await upload(routes.bundle(downgrade.checked), f, {
        headers: { "content-type": "application/octet-stream" },
        onProgress: (p, loaded) => {
          upProgress.value = p ?? 0;
          upText.textContent = `${fmtBytes(loaded)} of ${fmtBytes(f.size)}`;
        },
      });
      upText.textContent = `Uploaded ${f.name}; verifying.`;
      file.value = "";
      void refresh();
    } catch (err) {
      upText.textContent = explain(err);
    } finally {
      upProgress.hidden = true;
    }
  });

  root.append(
    h("h1", null, "Updates"),
    rollbackBox,
    h("section", { class: "card", "aria-label": "Slots and status" }, statusBox),
    h("section", { class: "card", "aria-labelledby": "upload-title" }, h("h2", { id: "upload-title" }, "Install an update"), form, pullBox, progressBox, restartBox),
    h("section", { class: "card", "aria-label": "Shared with core peers" }, offersBox),
  );
  void refresh();
  return () => {
    closed = true;
    clearTimeout(timer);
  };
}
