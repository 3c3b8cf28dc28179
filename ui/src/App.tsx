import { ConnectionIndicator } from "./components/ConnectionIndicator";
import { TokenGate } from "./components/TokenGate";
import { AdminPage } from "./pages/AdminPage";
import { TasksPage } from "./pages/TasksPage";

export type Route = "tasks" | "admin";

/** "/" → Tasks, "/admin" (and anything under it) → Admin; taskd serves index.html for both. */
export function routeFor(pathname: string): Route {
  const p = pathname.replace(/\/+$/, "");
  return p === "/admin" || p.startsWith("/admin/") ? "admin" : "tasks";
}

export function App({ pathname }: { pathname: string }) {
  const route = routeFor(pathname);
  return (
    <>
      <nav className="top">
        <span className="brand">taskd</span>
        <a href="/" className={route === "tasks" ? "active" : undefined} aria-current={route === "tasks" ? "page" : undefined}>
          Tasks
        </a>
        <a href="/admin" className={route === "admin" ? "active" : undefined} aria-current={route === "admin" ? "page" : undefined}>
          Admin
        </a>
        <span className="spacer" />
        <ConnectionIndicator />
      </nav>
      <main>{route === "admin" ? <AdminPage /> : <TasksPage />}</main>
      <TokenGate />
    </>
  );
}
