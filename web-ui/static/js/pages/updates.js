import { h, replace, table, fmtTime, fmtBytes, field, statusLine, toast } from "../h.js";
import { api, upload, explain } from "../api.js";

export const title = "Updates";

const routes = {
  status: "/api/update",
  bundle: (allowDowngrade) => `/api/update/bundle${allowDowngrade ? "?allowDowngrade=1" : ""}`,
  restart: "/api/update/restart",
};

const PHASES = { upload: "Uploading", verify: "Verifying the signature and every part", write: "Writing the inactive slot", readback: "Reading the slot back", done: "Done", failed: "Refused" };

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
  const progressBox = h("div");
  const restartBox = h("div");
  let timer = null;

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
        h("dt", null, "Pending"), h("dd", null, s.pending ? `${s.pending.version} on slot ${s.pending.slot.toUpperCase()}${s.pending.restartRequestedAt ? " (restart requested)" : ""}` : "nothing"),
        h("dt", null, "On trial"), h("dd", null, s.trial ? `${s.trial.version} on slot ${s.trial.slot.toUpperCase()}, waiting to be marked good` : "no"),
        h("dt", null, "Last result"), h("dd", null, s.lastResult ? `${s.lastResult.outcome} (${fmtTime(s.lastResult.at)}): ${s.lastResult.message}` : "none"),
        h("dt", null, "Last rollback"), h("dd", null, s.rollback ? `${s.rollback.failedVersion} (${fmtTime(s.rollback.at)}): ${s.rollback.reason}${s.rollback.data ? ` Data: ${s.rollback.data.summary}` : ""}` : "none")));
    const p = s.progress;
    if (p) {
      const bar = h("progress", { max: 1, value: p.totalBytes ? p.doneBytes / p.totalBytes : 0, "aria-label": "Update progress" });
      replace(progressBox,
        h("p", null, `${PHASES[p.phase] ?? p.phase}${p.totalBytes && !["done", "failed"].includes(p.phase) ? `: ${fmtBytes(p.doneBytes)} of ${fmtBytes(p.totalBytes)}` : ""}`),
        ["done", "failed"].includes(p.phase) ? null : bar,
        p.error ? h("p", { class: "error" }, `${p.error.message} (${p.error.code})`) : null,
        manifestView(p.manifest));
      if (!["done", "failed"].includes(p.phase)) schedule();
      else if (upText.textContent.endsWith("verifying.")) upText.textContent = "";
    }
    replace(restartBox, s.pending && !s.pending.restartRequestedAt
      ? h("div", null,
        h("p", null, `Version ${s.pending.version} is written to slot ${s.pending.slot.toUpperCase()}. The node restarts into it for a trial; if it does not become healthy it comes back on this version by itself.`),
        h("button", { type: "button", onclick: restart }, "Restart into the update"))
      : null);
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => void refresh(), 1000);
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
    h("section", { class: "card", "aria-label": "Slots and status" }, statusBox),
    h("section", { class: "card", "aria-labelledby": "upload-title" }, h("h2", { id: "upload-title" }, "Install an update"), form, progressBox, restartBox),
  );
  void refresh();
  return () => clearTimeout(timer);
}
