// Request logs: filters, newest first, cursor paging ("load more", and
// on scrolling to the end), a virtualised table (only the visible rows are
// in the DOM, so thousands of loaded rows stay fast), and a drawer with one
// request's detail and every upstream attempt. Role `user` sees their own.
// "Live" follows finished requests as they happen (the live feed) instead.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useLogPages, type LogFilters, type LogRow } from "../../api/logs";
import { useSeesAll } from "../../auth/session";
import { Button } from "../../components/Button";
import { EmptyRow, MoreFooter } from "../../components/CursorTable";
import { Dialog } from "../../components/Dialog";
import { Loaded, Page } from "../../components/Page";
import { LogDetailView } from "./LogDetail";
import { LogFiltersForm } from "./LogFiltersForm";
import { LiveLog } from "./LiveLog";
import { LogTableRegion, LogTableRow, logHeaders } from "./logCells";

const ROW_HEIGHT = 41;

export function LogsPage() {
  const { t } = useTranslation();
  const seesAll = useSeesAll();
  const [filters, setFilters] = useState<LogFilters>({});
  const [live, setLive] = useState(false);
  const pages = useLogPages(filters, !seesAll);
  const rows = useMemo<LogRow[]>(() => pages.data?.pages.flatMap((p) => p.items) ?? [], [pages.data]);
  const [open, setOpen] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);

  // eslint-disable-next-line react-hooks/incompatible-library -- the virtualizer's API is functions by design
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1];
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = pages;
  useEffect(() => {
    if (last && last.index >= rows.length - 5 && hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [last, rows.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const top = items[0]?.start ?? 0;
  const bottom = virtualizer.getTotalSize() - (last?.end ?? 0);
  const headers = logHeaders(t, seesAll);

  return (
    <Page title={t("nav.logs")} description={seesAll ? t("logs.description") : t("logs.mineDescription")}>
      <LogFiltersForm
        value={filters}
        onChange={(next) => {
          // Applying the same filters again is a refresh.
          if (JSON.stringify(next) === JSON.stringify(filters)) void pages.refetch();
          else setFilters(next);
        }}
        showUser={seesAll}
      />
      <div className="flex items-center gap-3">
        <Button size="sm" variant={live ? "primary" : "secondary"} aria-pressed={live} onClick={() => setLive(!live)}>
          {t("logs.live")}
        </Button>
        <span className="text-sm text-zinc-600 dark:text-zinc-400">{live ? t("logs.liveOn") : t("logs.liveOff")}</span>
      </div>
      {live ? (
        <LiveLog key={JSON.stringify(filters)} filters={filters} seesAll={seesAll} onOpen={setOpen} />
      ) : (
        <Loaded query={pages}>
          {() => (
            <>
              <LogTableRegion label={t("logs.tableLabel")} headers={headers} scrollRef={scroller}>
                {rows.length === 0 ? <EmptyRow columns={headers.length} text={t("logs.none")} /> : null}
                {top > 0 ? (
                  <tr aria-hidden="true">
                    <td colSpan={headers.length} style={{ height: top }} />
                  </tr>
                ) : null}
                {items.map((item) => {
                  const r = rows[item.index];
                  return r ? <LogTableRow key={r.id} row={r} seesAll={seesAll} onOpen={setOpen} /> : null;
                })}
                {bottom > 0 ? (
                  <tr aria-hidden="true">
                    <td colSpan={headers.length} style={{ height: bottom }} />
                  </tr>
                ) : null}
              </LogTableRegion>
              <MoreFooter
                loaded={t("logs.loaded", { count: rows.length })}
                hasNext={hasNextPage}
                fetching={isFetchingNextPage}
                onMore={() => void fetchNextPage()}
                more={t("logs.more")}
                loading={t("common.loading")}
                end={t("logs.end")}
              />
            </>
          )}
        </Loaded>
      )}
      <Dialog open={open !== null} onClose={() => setOpen(null)} title={t("logs.detailTitle")} variant="drawer">
        {open ? <LogDetailView requestId={open} /> : null}
      </Dialog>
    </Page>
  );
}
