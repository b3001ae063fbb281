// A subscription credential's live quota: one bar per window or model,
// with when it resets. The vendor is asked at most every 30 s (the API
// caches), and only while this panel is open.
import { useTranslation } from "react-i18next";
import { ApiError, errorMessage } from "../../api/errors";
import { useQuota } from "../../api/oauth";
import { formatTime } from "../../lib/format";
import { quotaBars } from "./oauth";

export function QuotaPanel({ id }: { id: number }) {
  const { t, i18n } = useTranslation();
  const quota = useQuota(id);
  if (quota.isPending) return <p role="status">{t("common.loading")}</p>;
  if (quota.isError) {
    const e = quota.error;
    const message =
      e instanceof ApiError && e.status === 400
        ? t("oauth.quotaNone")
        : e instanceof ApiError && e.status === 502
          ? t("oauth.quotaVendor", { message: e.message })
          : errorMessage(e);
    return (
      <p role="alert" className="text-sm text-red-800 dark:text-red-300">
        {message}
      </p>
    );
  }
  const report = quota.data;
  const bars = quotaBars(report);
  return (
    <div className="space-y-3 text-sm">
      <p className="text-zinc-600 dark:text-zinc-400">
        {report.plan ? `${t("oauth.plan")}: ${report.plan} · ` : ""}
        {t("oauth.fetched", { time: formatTime(report.fetched_at, i18n.language) })}
      </p>
      {bars.length === 0 ? <p>{t("oauth.quotaEmpty")}</p> : null}
      <ul className="space-y-2">
        {bars.map((b) => (
          <li key={b.key}>
            <div className="flex justify-between">
              <span className="font-medium">{b.label}</span>
              <span>{b.percent === null ? "—" : `${b.percent.toFixed(0)}%`}</span>
            </div>
            <div
              role="meter"
              aria-label={b.label}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={b.percent ?? 0}
              className="mt-1 h-2 rounded bg-zinc-200 dark:bg-zinc-700"
            >
              <div
                className={`h-2 rounded ${(b.percent ?? 0) >= 90 ? "bg-red-600" : "bg-indigo-600"}`}
                style={{ width: `${b.percent ?? 0}%` }}
              />
            </div>
            {b.resetsAt ? (
              <div className="mt-0.5 text-xs text-zinc-600 dark:text-zinc-400">
                {t("oauth.resets", { time: formatTime(b.resetsAt, i18n.language) })}
              </div>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
