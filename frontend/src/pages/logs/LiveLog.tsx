// The Logs page's live mode: finished requests as they happen (newest
// first, the last 500), with the page's filters applied by the server, and
// a notice when this browser read too slowly and lost some.
import { useTranslation } from "react-i18next";
import type { LogFilters } from "../../api/logs";
import { useLiveFeed } from "../../api/live";
import { LogTableRegion, LogTableRow, logHeaders } from "./logCells";

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
      <LogTableRegion label={t("logs.liveLabel")} headers={headers}>
        {feed.rows.map((r) => (
          <LogTableRow key={r.request_id} row={r} seesAll={seesAll} onOpen={onOpen} />
        ))}
      </LogTableRegion>
    </div>
  );
}
