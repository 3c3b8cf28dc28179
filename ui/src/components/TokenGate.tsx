import { useEffect, useState, type FormEvent } from "react";
import { UNAUTHORIZED_EVENT, clearToken, getToken, setToken } from "../lib/auth";

/**
 * Asks for the API token once the server answers 401 (taskd with [server] api_token).
 * The token is kept for the browser session; the page then reloads so every request and
 * the event stream carry it.
 */
export function TokenGate({ reload = () => window.location.reload() }: { reload?: () => void }) {
  const [asked, setAsked] = useState(false);
  const [value, setValue] = useState("");
  const rejected = asked && getToken() !== null;

  useEffect(() => {
    const onUnauthorized = () => setAsked(true);
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, []);

  if (!asked) return null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    clearToken();
    setToken(value.trim());
    reload();
  };
  return (
    <div className="token-gate" role="dialog" aria-modal="true" aria-labelledby="token-title" data-testid="token-gate">
      <form className="card" onSubmit={submit}>
        <h2 id="token-title">API token needed</h2>
        <p className="muted">
          This taskd requires a token (<code>[server] api_token</code> or <code>TASKD_API_TOKEN</code>). It is kept for
          this browser session only.
        </p>
        {rejected && (
          <p className="error" role="alert" data-testid="token-rejected">
            The token was refused.
          </p>
        )}
        <label>
          token
          <input
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            data-testid="token-input"
            autoFocus
          />
        </label>
        <button type="submit" className="primary" data-testid="token-submit">
          Use token
        </button>
      </form>
    </div>
  );
}
