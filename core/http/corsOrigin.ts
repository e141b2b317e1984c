/** A web origin as browsers send it (scheme://host[:port], any scheme: extensions have their own), or "*". */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+$/i;

/** Why a server.corsOrigins entry is refused, or null when it is a valid origin or "*". */
export function corsOriginProblem(entry: string): string | null {
  if (entry === "*" || ORIGIN.test(entry)) return null;
  return `"${entry}" is not an origin: write scheme://host[:port] with no path (https://chat.example.org, chrome-extension://<id>), or * for any`;
}
