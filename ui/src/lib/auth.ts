// The API token (taskd's [server] api_token), when the server asks for one: entered once,
// kept for the browser session (sessionStorage), sent as "Authorization: Bearer" on API
// calls and as ?access_token= on the event stream (browsers cannot set headers there).

const KEY = "taskd-api-token";
export const UNAUTHORIZED_EVENT = "taskd:unauthorized";

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/** Tells the page that the server refused the token (or wants one). */
export function announceUnauthorized(): void {
  window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
}
