// What the paged log table and the live table share: the status colour,
// the column headers, the scrolling table region and one row's cells.
import type { TFunction } from "i18next";
import type { ReactNode, Ref } from "react";
import { useTranslation } from "react-i18next";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { TableHead } from "../../components/CursorTable";
import { formatNumber, formatTime, formatUsd } from "../../lib/format";

export function statusTone(status: number) {
  if (status >= 500) return "red" as const;
  if (status >= 400) return "amber" as const;
  return "green" as const;
}

export function logHeaders(t: TFunction, seesAll: boolean): string[] {
  return [
    t("logs.time"),
    t("logs.status"),
    t("logs.request"),
    t("logs.provider"),
    t("logs.model"),
    ...(seesAll ? [t("logs.user")] : []),
    t("logs.latency"),
    t("logs.tokens"),
    t("logs.cost"),
    t("logs.detail"),
  ];
}

/** The fields a row shows (a logged request or a live summary). */
export interface LogCellsRow {
  request_id: string;
  created_at: string;
  status: number;
  method: string;
  path: string;
  provider?: string | null;
  model?: string | null;
  user_name?: string | null;
  latency_ms: number;
  input_tokens?: number | null;
  output_tokens?: number | null;
  /** USD as a decimal string; null when the price is unknown. */
  cost?: string | null;
}

export function LogCells({
  row: r,
  seesAll,
  onOpen,
}: {
  row: LogCellsRow;
  seesAll: boolean;
  onOpen: (requestId: string) => void;
}) {
  const { t, i18n } = useTranslation();
  return (
    <>
      <td className="px-3">{formatTime(r.created_at, i18n.language)}</td>
      <td className="px-3">
        <Badge tone={statusTone(r.status)}>{r.status}</Badge>
      </td>
      <td className="max-w-72 truncate px-3 font-mono text-xs" title={`${r.method} ${r.path}`}>
        {r.method} {r.path}
      </td>
      <td className="px-3">{r.provider ?? "—"}</td>
      <td className="px-3">{r.model ?? "—"}</td>
      {seesAll ? <td className="px-3">{r.user_name ?? "—"}</td> : null}
      <td className="px-3">{t("logs.ms", { ms: r.latency_ms })}</td>
      <td className="px-3">
        {formatNumber(r.input_tokens, i18n.language)} / {formatNumber(r.output_tokens, i18n.language)}
      </td>
      <td className="px-3 tabular-nums">{formatUsd(r.cost)}</td>
      <td className="px-3">
        <Button size="sm" variant="ghost" onClick={() => onOpen(r.request_id)}>
          {t("logs.open")}
          <span className="sr-only"> {r.request_id}</span>
        </Button>
      </td>
    </>
  );
}

/** The scrolling region holding a log table: `label` names both, the
 * body rows are `children`. The region is `relative` so the rows'
 * screen-reader-only labels stay inside its scroll box instead of
 * widening the page. */
export function LogTableRegion({
  label,
  headers,
  scrollRef,
  children,
}: {
  label: string;
  headers: readonly string[];
  scrollRef?: Ref<HTMLDivElement>;
  children: ReactNode;
}) {
  return (
    <div
      ref={scrollRef}
      role="region"
      aria-label={label}
      tabIndex={0}
      className="relative h-[60vh] min-h-72 overflow-auto rounded-lg border border-zinc-200 bg-white focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:bg-zinc-900"
    >
      <table className="min-w-full text-sm">
        <caption className="sr-only">{label}</caption>
        <TableHead headers={headers} sticky />
        <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">{children}</tbody>
      </table>
    </div>
  );
}

/** One log row: the cells in a row of the table's height. */
export function LogTableRow(props: { row: LogCellsRow; seesAll: boolean; onOpen: (requestId: string) => void }) {
  return (
    <tr className="h-[41px] whitespace-nowrap hover:bg-zinc-50 dark:hover:bg-zinc-800/60">
      <LogCells {...props} />
    </tr>
  );
}
