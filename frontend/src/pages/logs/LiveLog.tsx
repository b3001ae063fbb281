// The Logs page's live mode: finished requests as they happen (newest
// first, the last 500), with the page's filters applied by the server, and
// a notice when this browser read too slowly and lost some. The region is
// `relative` so the rows' screen-reader-only labels stay inside its scroll
// box instead of widening the page.
import { useTranslation } from "react-i18next";
import type { LogFilters } from "../../api/logs";
import { useLiveFeed } from "../../api/live";
import { TableHead } from "../../components/CursorTable";
import { LogCells, logHeaders } from "./logCells";

export function LiveLog({
  filters,
  seesAll,
  onOpen,
}: {
  filters: LogFilters;
  seesAll: boolean;
  onOpen: (requestId: string) => void;
}) {
  const { t } = useTranslation();
  const feed = useLiveFeed(true, {
    provider: filters.provider,
    model: filters.model,
    status: filters.status_class ? `${filters.status_class}xx` : undefined,
  });
  const headers = logHeaders(t, seesAll);
  return (
    <div className="space-y-2">
      <p role="status" className="text-sm text-zinc-700 dark:text-zinc-300">
        {feed.error
          ? t("logs.liveError", { error: feed.error })
          : feed.connected
            ? t("logs.liveWaiting", { count: feed.rows.length })
            : t("common.loading")}
        {feed.missed > 0 ? ` ${t("logs.liveMissed", { count: feed.missed })}` : null}
      </p>
      <div
        role="region"
        aria-label={t("logs.liveLabel")}
        tabIndex={0}
        className="relative h-[60vh] min-h-72 overflow-auto rounded-lg border border-zinc-200 bg-white focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:bg-zinc-900"
      >
        <table className="min-w-full text-sm">
          <caption className="sr-only">{t("logs.liveLabel")}</caption>
          <TableHead headers={headers} sticky />
          <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
            {feed.rows.map((r) => (
              <tr key={r.request_id} className="h-[41px] whitespace-nowrap hover:bg-zinc-50 dark:hover:bg-zinc-800/60">
                <LogCells row={r} seesAll={seesAll} onOpen={onOpen} />
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
