// One fetch wrapper for the node's HTTP API: same-origin cookies, the CSRF
// header on every state-changing request, and errors in the documented shape.

let csrfToken = null;
const listeners = new Set();

/** The auth service hands out the CSRF token with the session; pages never handle it. */
export function setCsrfToken(token) {
  csrfToken = token || null;
}

function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

export function csrfHeaders() {
  // The cookie is what the node rotates (login, password change), so it wins over a remembered token.
  const t = readCookie("sovereign_csrf") ?? csrfToken;
  return t ? { "x-csrf-token": t } : {};
}

/** Called with no arguments when a request comes back 401 (expired or revoked session). */
export function onUnauthenticated(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** For channels other than fetch (the SSE stream) that learn the session ended. */
export function signalUnauthenticated() {
  for (const fn of listeners) fn();
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(typeof e === "string" ? e : e.message || `Request failed (${status})`);
    this.status = status;
    this.code = e.code ?? e.type ?? null;
    this.hint = e.hint ?? null;
    this.details = e.details ?? null;
  }
}

const unsafe = (m) => !["GET", "HEAD", "OPTIONS"].includes(m);

/**
 * api("/api/x") → parsed JSON. `body` objects are sent as JSON; FormData as multipart.
 * `quiet401` keeps a 401 from signalling "session expired" (used by the boot probe and login).
 */
export async function api(path, { method = "GET", body, signal, headers = {}, quiet401 = false, raw = false } = {}) {
  const h = { accept: "application/json", ...headers };
  if (unsafe(method)) Object.assign(h, csrfHeaders());
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
    h["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, body: payload, headers: h, signal, credentials: "same-origin" });
  if (raw && res.ok) return res;
  const text = res.status === 204 ? "" : await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: { message: text.slice(0, 200) } };
  }
  if (!res.ok) {
    if (res.status === 401 && !quiet401) for (const fn of listeners) fn();
    throw new ApiError(res.status, data);
  }
  return data;
}

/** Multipart/binary upload with progress (fetch cannot report upload progress). */
export function upload(path, body, { onProgress, method = "POST", headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.withCredentials = true;
    for (const [k, v] of Object.entries({ accept: "application/json", ...csrfHeaders(), ...headers })) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress?.(e.lengthComputable ? e.loaded / e.total : null, e.loaded);
    xhr.onerror = () => reject(new ApiError(0, { error: { message: "Network error during upload." } }));
    xhr.onload = () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        if (xhr.status === 401) for (const fn of listeners) fn();
        reject(new ApiError(xhr.status, data));
      }
    };
    xhr.send(body);
  });
}

/** Explains an error for a person: message, then the hint when the node gave one. */
export function explain(err) {
  if (err?.name === "AbortError") return "Stopped.";
  if (err instanceof ApiError) return err.hint ? `${err.message} ${err.hint}` : err.message;
  return err?.message || String(err);
}
