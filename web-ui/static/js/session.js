// The session, as the auth service defines it. The only module that knows its routes.
import { api, ApiError, setCsrfToken } from "./api.js";

export const authRoutes = {
  me: "/api/auth/me",
  setupState: "/api/setup/status",
  claim: "/api/setup/claim",
  login: "/api/auth/login",
  logout: "/api/auth/logout",
};

/** { user, setupRequired }: user is null when nobody is logged in. */
export async function session() {
  try {
    const s = await api(authRoutes.me, { quiet401: true });
    setCsrfToken(s.csrfToken);
    // An API-key caller (no session) gets no panel: the panel is for people.
    if (s.kind === "user") return { user: s, setupRequired: false };
  } catch (err) {
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
  }
  setCsrfToken(null);
  const setup = await api(authRoutes.setupState, { quiet401: true }).catch(() => null);
  return { user: null, setupRequired: setup ? setup.claimed === false : false };
}

export async function login(username, password) {
  const s = await api(authRoutes.login, { method: "POST", body: { username, password }, quiet401: true });
  setCsrfToken(s?.csrfToken);
  return s;
}

export async function claim(setupCode, username, password) {
  const s = await api(authRoutes.claim, { method: "POST", body: { code: setupCode, username, password }, quiet401: true });
  setCsrfToken(s?.csrfToken);
  return s;
}

export async function logout() {
  try {
    await api(authRoutes.logout, { method: "POST", quiet401: true });
  } finally {
    setCsrfToken(null);
  }
}
