// Light and dark themes: the choice is kept in localStorage; without one,
// the system's preference. The `dark` class on <html> switches Tailwind's
// `dark:` variant (see app.css).
export type Theme = "light" | "dark";

const KEY = "gproxy.theme";

export function storedTheme(): Theme {
  const saved = safeGet(KEY);
  if (saved === "light" || saved === "dark") return saved;
  return globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme: Theme): void {
  document.documentElement.classList.toggle("dark", theme === "dark");
  document.documentElement.style.colorScheme = theme;
}

export function saveTheme(theme: Theme): void {
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // Private mode without storage: the choice lasts for this page.
  }
  applyTheme(theme);
}

function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
