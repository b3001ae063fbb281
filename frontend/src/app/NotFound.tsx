import { Link } from "@tanstack/react-router";
import { useTranslation } from "react-i18next";

export function NotFound() {
  const { t } = useTranslation();
  return (
    <main className="mx-auto max-w-md p-8 text-center">
      <h1 className="text-2xl font-semibold">{t("notFound.title")}</h1>
      <p className="mt-2 text-zinc-700 dark:text-zinc-300">{t("notFound.text")}</p>
      <Link to="/" className="mt-4 inline-block text-indigo-700 underline dark:text-indigo-300">
        {t("notFound.home")}
      </Link>
    </main>
  );
}
