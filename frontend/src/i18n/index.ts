// English and Simplified Chinese. Every visible string goes through
// `t(key)`; the two resource files must hold the same keys (a Vitest test
// fails otherwise). The choice is remembered; the first visit follows the
// browser's language.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./en.json";
import zhCN from "./zh-CN.json";

export const LANGUAGES = [
  { code: "en", label: "English" },
  { code: "zh-CN", label: "简体中文" },
] as const;
export type Language = (typeof LANGUAGES)[number]["code"];

export const resources = { en: { translation: en }, "zh-CN": { translation: zhCN } } as const;

const KEY = "gproxy.language";

function initialLanguage(): Language {
  let saved: string | null;
  try {
    saved = localStorage.getItem(KEY);
  } catch {
    saved = null;
  }
  if (saved === "en" || saved === "zh-CN") return saved;
  const browser = globalThis.navigator?.language ?? "en";
  return browser.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export async function setLanguage(lang: Language): Promise<void> {
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    // Without storage the choice lasts for this page.
  }
  await i18n.changeLanguage(lang);
}

i18n.on("languageChanged", (lang) => {
  if (typeof document !== "undefined") document.documentElement.lang = lang;
});

void i18n.use(initReactI18next).init({
  resources,
  lng: initialLanguage(),
  fallbackLng: "en",
  supportedLngs: ["en", "zh-CN"],
  interpolation: { escapeValue: false },
  returnNull: false,
});

export default i18n;
