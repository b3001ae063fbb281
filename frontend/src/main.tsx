// Entry point: theme and language first (no flash of the wrong theme
// after the first paint), then the app.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "./app.css";
import "./i18n";
import { applyTheme, storedTheme } from "./lib/theme";
import { App } from "./app/App";

applyTheme(storedTheme());

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
