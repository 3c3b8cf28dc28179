import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { StreamProvider } from "./hooks/stream";
import { getToken } from "./lib/auth";
import { EventStream, eventsUrl } from "./lib/eventStream";
import "./styles.css";

const stream = new EventStream({ url: eventsUrl(window.location, getToken()) });
stream.start();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <StreamProvider stream={stream}>
      <App pathname={window.location.pathname} />
    </StreamProvider>
  </StrictMode>,
);
