import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { StreamProvider } from "./hooks/stream";
import { EventStream, eventsUrl } from "./lib/eventStream";
import "./styles.css";

const stream = new EventStream({ url: eventsUrl(window.location) });
stream.start();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <StreamProvider stream={stream}>
      <App pathname={window.location.pathname} />
    </StreamProvider>
  </StrictMode>,
);
