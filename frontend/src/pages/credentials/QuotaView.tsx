// An OAuth credential's live quota (`GET /credentials/{id}/quota`): the
// plan, and per window how much is used, as a bar, and when it resets.
// A kind without a quota endpoint (400) and a vendor failure (502) are
// told apart.
import { useTranslation } from "react-i18next";
import { useQuota, type QuotaReport, type QuotaWindow } from "../../api/oauth";
import { Button } from "../../components/Button";
import { ErrorNote, Loading } from "../../components/Page";
import { formatTime } from "../../lib/format";
import { KNOWN_WINDOWS, quotaProblem, resetIso, usedPercent, usedTone, windowLength } from "./oauthLogic";

const BAR: Record<"green" | "amber" | "red", string> = {
  green: "bg-green-600",
  amber: "bg-amber-500",
  red: "bg-red-600",
};

export function QuotaView({ id }: { id: number }) {
  const { t } = useTranslation();
  const quota = useQuota(id);
  if (quota.isPending) return <Loading />;
  if (quota.isError) {
    const problem = quotaProblem(quota.error);
    if (problem.key === null) return <ErrorNote error={quota.error} />;
    return (
      <p role="alert" className="text-sm text-zinc-800 dark:text-zinc-200">
        {t(problem.key, { message: problem.message })}
      </p>
    );
  }
  return <Report report={quota.data} reloading={quota.isFetching} onReload={() => void quota.refetch()} />;
}

function Report({ report, reloading, onReload }: { report: QuotaReport; reloading: boolean; onReload: () => void }) {
  const { t, i18n } = useTranslation();
  return (
    <div className="space-y-4 text-sm">
      <dl className="grid gap-x-6 gap-y-1 sm:grid-cols-[max-content_1fr]">
        <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("oauth.quota.plan")}</dt>
        <dd>{report.plan ?? "—"}</dd>
        <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("oauth.quota.fetched")}</dt>
        <dd>{formatTime(report.fetched_at, i18n.language)}</dd>
      </dl>
      {report.windows.length === 0 ? (
        <p>{t("oauth.quota.empty")}</p>
      ) : (
        <ul className="space-y-3" aria-label={t("oauth.quota.windowsLabel")}>
          {report.windows.map((w, i) => (
            <WindowRow key={`${w.name}-${w.model ?? ""}-${i}`} window={w} />
          ))}
        </ul>
      )}
      <div className="flex justify-end">
        <Button size="sm" onClick={onReload} disabled={reloading}>
          {t("oauth.quota.reload")}
        </Button>
      </div>
    </div>
  );
}

function WindowRow({ window: w }: { window: QuotaWindow }) {
  const { t, i18n } = useTranslation();
  const label = KNOWN_WINDOWS.includes(w.name) ? t(`oauth.quota.windows.${w.name}`) : w.name;
  const percent = usedPercent(w);
  const reset = resetIso(w);
  const length = windowLength(w.window_seconds);
  const shown = percent === null ? null : percent.toLocaleString(i18n.language, { maximumFractionDigits: 1 });
  return (
    <li>
      <div className="flex flex-wrap items-baseline justify-between gap-x-3">
        <span className="font-medium">
          {label}
          {w.model && !label.toLowerCase().includes(w.model.toLowerCase()) ? (
            <span className="font-normal text-zinc-600 dark:text-zinc-400">
              {" "}
              · {t("oauth.quota.model", { model: w.model })}
            </span>
          ) : null}
        </span>
        <span>{shown === null ? t("oauth.quota.unknown") : t("oauth.quota.used", { percent: shown })}</span>
      </div>
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
        aria-valuetext={shown === null ? t("oauth.quota.unknown") : t("oauth.quota.used", { percent: shown })}
        className="mt-1 h-2.5 w-full overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-700"
      >
        {percent !== null ? (
          <div className={`h-full ${BAR[usedTone(percent)]}`} style={{ width: `${percent}%` }} />
        ) : null}
      </div>
      <div className="mt-0.5 flex flex-wrap gap-x-3 text-xs text-zinc-600 dark:text-zinc-400">
        {reset ? <span>{t("oauth.quota.resets", { time: formatTime(reset, i18n.language) })}</span> : null}
        {length ? <span>{t(`oauth.quota.length.${length.unit}`, { count: length.count })}</span> : null}
      </div>
    </li>
  );
}
