// The theme switch and the language picker (both remembered).
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Button } from "../components/Button";
import { LANGUAGES, setLanguage, type Language } from "../i18n";
import { saveTheme, storedTheme, type Theme } from "../lib/theme";

export function ThemeToggle() {
  const { t } = useTranslation();
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const next: Theme = theme === "dark" ? "light" : "dark";
  return (
    <Button
      variant="ghost"
      size="sm"
      aria-label={t(next === "dark" ? "shell.themeDark" : "shell.themeLight")}
      title={t(next === "dark" ? "shell.themeDark" : "shell.themeLight")}
      onClick={() => {
        saveTheme(next);
        setTheme(next);
      }}
    >
      <span aria-hidden="true">{theme === "dark" ? "☀" : "☾"}</span>
    </Button>
  );
}

export function LanguageSelect() {
  const { t, i18n } = useTranslation();
  return (
    <label className="flex items-center">
      <span className="sr-only">{t("shell.language")}</span>
      <select
        value={i18n.resolvedLanguage}
        onChange={(e) => void setLanguage(e.target.value as Language)}
        className="rounded-md border border-zinc-300 bg-white px-1.5 py-1 text-sm dark:border-zinc-600 dark:bg-zinc-900"
      >
        {LANGUAGES.map((lang) => (
          <option key={lang.code} value={lang.code}>
            {lang.label}
          </option>
        ))}
      </select>
    </label>
  );
}
