// Small state labels (enabled, cooling down, disabled...).
import type { ReactNode } from "react";

export type Tone = "green" | "amber" | "red" | "zinc" | "indigo";

const TONES: Record<Tone, string> = {
  green: "bg-green-100 text-green-900 dark:bg-green-900/60 dark:text-green-100",
  amber: "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-100",
  red: "bg-red-100 text-red-900 dark:bg-red-900/60 dark:text-red-100",
  zinc: "bg-zinc-100 text-zinc-800 dark:bg-zinc-800 dark:text-zinc-200",
  indigo: "bg-indigo-100 text-indigo-900 dark:bg-indigo-900/60 dark:text-indigo-100",
};

export function Badge({ tone = "zinc", children }: { tone?: Tone; children: ReactNode }) {
  return (
    <span
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ${TONES[tone]}`}
    >
      {children}
    </span>
  );
}
