import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

/** Errors of services/auth: setup, login, sessions, CSRF, API keys, users and quotas. */
export const authErrors = defineErrors("auth", {
  SETUP_CLOSED: { status: 403, description: "The node has already been claimed; first-run setup is closed for good.", hint: "Log in with an admin account (an admin resets other users' passwords on the panel's Users & keys page, /#/users). At the console, `sovereign user reset-password NAME` resets a forgotten one." },
  SETUP_CODE_INVALID: { status: 401, description: "The setup code is wrong.", hint: "The code is in the banner on the node's console (printed again every few minutes until the node is claimed) and in the journal; `sovereign setup-code` prints it again." },
  LOGIN_FAILED: { status: 401, description: "The user name or password is wrong." },
  LOGIN_LOCKED: { status: 429, description: "Too many failed logins; login is locked for a while. Wait for the time in Retry-After." },
  SESSION_EXPIRED: { status: 401, description: "The session has ended (logged out, expired, or revoked).", hint: "Log in again." },
  CSRF_FAILED: { status: 403, description: "A state-changing request lacked a valid CSRF token or came from another origin.", hint: "Send the session's token in the X-CSRF-Token header, from the page served by this node." },
  INSUFFICIENT_SCOPE: { status: 403, description: "The caller's role or API key does not include the permission this route needs." },
  LOOPBACK_ONLY: { status: 403, description: "This route only answers requests from the node itself (127.0.0.1 or ::1)." },
  API_KEY_INVALID: { status: 401, description: "The API key is unknown, revoked or expired.", hint: "Create a new key under Users and API keys." },
  API_KEY_NOT_FOUND: { status: 404, description: "No API key with that id belongs to the caller." },
  USER_NOT_FOUND: { status: 404, description: "No user with that id or name." },
  USER_EXISTS: { status: 409, description: "A user with that name already exists." },
  LAST_ADMIN: { status: 409, description: "The node must keep at least one enabled admin.", hint: "Make another user admin first." },
  PASSWORD_WEAK: { status: 400, description: "The new password is too short or too long (10 to 256 characters)." },
  QUOTA_EXCEEDED: { status: 429, description: "The token quota of this user or API key is used up until the window resets (see details.resetsAt and Retry-After)." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof authErrors> {}
}
