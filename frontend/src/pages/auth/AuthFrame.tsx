// The centred frame of the sign-in and setup pages, with the theme and
// language controls (they are needed before signing in too).
import { useEffect, type ReactNode } from "react";
import { LanguageSelect, ThemeToggle } from "../../app/Preferences";

export function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · gproxy`;
  }, [title]);
  return (
    <div className="min-h-dvh bg-zinc-50 px-4 py-10 text-zinc-900 dark:bg-zinc-950 dark:text-zinc-100">
      <div className="mx-auto flex max-w-md justify-end gap-2">
        <ThemeToggle />
        <LanguageSelect />
      </div>
      <main className="mx-auto mt-6 max-w-md rounded-lg border border-zinc-200 bg-white p-6 shadow-sm dark:border-zinc-700 dark:bg-zinc-900">
        <div className="mb-5 flex items-center gap-2">
          <img src="/favicon.svg" alt="" className="size-7" />
          <h1 className="text-xl font-semibold">{title}</h1>
        </div>
        {children}
      </main>
    </div>
  );
}
