// The audit log: every admin write (who, what, which object, the status it
// answered, from where), newest first, filtered and cursor-paged; each
// record's detail (never secrets) opens in place.
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useAuditPages, type AuditFilters, type AuditRecord } from "../../api/audit";
import { Badge } from "../../components/Badge";
import { EmptyRow, MoreFooter, TableHead } from "../../components/CursorTable";
import { ErrorNote, Loading, Page } from "../../components/Page";
import { formatTime } from "../../lib/format";
import { AuditFiltersForm } from "./AuditFiltersForm";

function outcomeTone(status: number) {
  if (status >= 500) return "red" as const;
  if (status >= 400) return "amber" as const;
  return "green" as const;
}

/** The detail as text, or null when there is none worth showing. */
export function detailText(detail: unknown): string | null {
  if (detail === null || detail === undefined) return null;
  if (typeof detail === "object" && Object.keys(detail).length === 0) return null;
  return JSON.stringify(detail, null, 2);
}

export function AuditPage() {
  const { t, i18n } = useTranslation();
  const [filters, setFilters] = useState<AuditFilters>({});
  const pages = useAuditPages(filters);
  const rows = useMemo<AuditRecord[]>(() => pages.data?.pages.flatMap((p) => p.items) ?? [], [pages.data]);
  const headers = [
    t("audit.time"),
    t("audit.actor"),
    t("audit.action"),
    t("audit.target"),
    t("audit.outcome"),
    t("audit.clientIp"),
    t("audit.detail"),
  ];

  return (
    <Page title={t("nav.audit")} description={t("audit.description")}>
      <AuditFiltersForm onChange={setFilters} />
      {pages.isPending ? <Loading /> : null}
      {pages.isError ? <ErrorNote error={pages.error} /> : null}
      {pages.data ? (
        <>
          <div className="overflow-x-auto rounded-lg border border-zinc-200 bg-white dark:border-zinc-700 dark:bg-zinc-900">
            <table className="min-w-full text-sm">
              <caption className="sr-only">{t("audit.tableLabel")}</caption>
              <TableHead headers={headers} />
              <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
                {rows.length === 0 ? <EmptyRow columns={headers.length} text={t("audit.none")} /> : null}
                {rows.map((r) => {
                  const detail = detailText(r.detail);
                  return (
                    <tr key={r.id} className="align-top">
                      <td className="px-3 py-2 whitespace-nowrap">{formatTime(r.created_at, i18n.language)}</td>
                      <td className="px-3 py-2">{r.actor}</td>
                      <td className="px-3 py-2 font-mono text-xs">{r.action}</td>
                      <td className="px-3 py-2">
                        <span className="text-zinc-600 dark:text-zinc-400">{r.target_type}</span>{" "}
                        <span className="font-mono text-xs break-all">{r.target_id}</span>
                      </td>
                      <td className="px-3 py-2">
                        <Badge tone={outcomeTone(r.outcome)}>{r.outcome}</Badge>
                      </td>
                      <td className="px-3 py-2 font-mono text-xs">{r.client_ip ?? "—"}</td>
                      <td className="px-3 py-2">
                        {detail ? (
                          <details>
                            <summary className="cursor-pointer text-indigo-700 dark:text-indigo-300">
                              {t("audit.show")}
                            </summary>
                            <pre className="mt-1 max-w-md overflow-x-auto rounded bg-zinc-100 p-2 text-xs dark:bg-zinc-800">
                              {detail}
                            </pre>
                          </details>
                        ) : (
                          "—"
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <MoreFooter
            loaded={t("audit.loaded", { count: rows.length })}
            hasNext={pages.hasNextPage}
            fetching={pages.isFetchingNextPage}
            onMore={() => void pages.fetchNextPage()}
            more={t("audit.more")}
            loading={t("common.loading")}
            end={t("audit.end")}
          />
        </>
      ) : null}
    </Page>
  );
}
