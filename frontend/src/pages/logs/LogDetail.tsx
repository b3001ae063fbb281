// One request: what came in, what went out, and every upstream attempt
// (credential, status, latency, error class); captured bodies when the
// gateway records them.
import { useTranslation } from "react-i18next";
import { useLogDetail } from "../../api/logs";
import { Badge } from "../../components/Badge";
import { ErrorNote, Loading } from "../../components/Page";
import { formatNumber, formatTime, formatUsd } from "../../lib/format";
import { statusTone } from "./logCells";

export function LogDetailView({ requestId }: { requestId: string }) {
  const { t, i18n } = useTranslation();
  const detail = useLogDetail(requestId);
  if (detail.isPending) return <Loading />;
  if (detail.isError) return <ErrorNote error={detail.error} />;
  const { log, attempts, bodies } = detail.data;
  const n = (v: number | null | undefined) => formatNumber(v, i18n.language);
  const facts: [string, React.ReactNode][] = [
    [t("logs.requestId"), <span className="font-mono text-xs break-all">{log.request_id}</span>],
    [t("logs.time"), formatTime(log.created_at, i18n.language)],
    [t("logs.status"), <Badge tone={statusTone(log.status)}>{log.status}</Badge>],
    [t("logs.request"), <span className="font-mono text-xs break-all">{`${log.method} ${log.path}`}</span>],
    [t("logs.protocol"), log.protocol],
    [t("logs.provider"), log.provider ?? "—"],
    [t("logs.model"), log.model ?? "—"],
    [t("logs.user"), log.user_name ?? "—"],
    [t("logs.key"), log.key_prefix ? <span className="font-mono text-xs">{log.key_prefix}…</span> : "—"],
    [t("logs.stream"), t(log.stream ? "common.yes" : "common.no")],
    [t("logs.latency"), t("logs.ms", { ms: log.latency_ms })],
    [t("logs.ttfb"), log.ttfb_ms !== null && log.ttfb_ms !== undefined ? t("logs.ms", { ms: log.ttfb_ms }) : "—"],
    [t("logs.tokensIn"), n(log.input_tokens)],
    [t("logs.tokensOut"), n(log.output_tokens)],
    [t("logs.cacheRead"), n(log.cache_read_tokens)],
    [t("logs.cacheWrite"), n(log.cache_write_tokens)],
    [t("logs.reasoning"), n(log.reasoning_tokens)],
    [t("logs.cost"), formatUsd(log.cost)],
    [t("logs.priceVersion"), log.price_version ?? "—"],
    [t("logs.error"), log.error ?? "—"],
    [t("logs.disconnected"), t(log.client_disconnected ? "common.yes" : "common.no")],
  ];
  return (
    <div className="space-y-5 text-sm">
      <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1.5">
        {facts.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="font-medium text-zinc-600 dark:text-zinc-400">{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <section>
        <h3 className="mb-2 font-semibold">{t("logs.attempts", { count: attempts.length })}</h3>
        {attempts.length === 0 ? (
          <p className="text-zinc-600 dark:text-zinc-400">{t("logs.noAttempts")}</p>
        ) : (
          <div
            role="region"
            aria-label={t("logs.attemptsLabel")}
            tabIndex={0}
            className="relative overflow-x-auto rounded border border-zinc-200 dark:border-zinc-700"
          >
            <table className="min-w-full text-xs">
              <caption className="sr-only">{t("logs.attemptsLabel")}</caption>
              <thead className="bg-zinc-50 dark:bg-zinc-800">
                <tr>
                  {[
                    "#",
                    t("logs.provider"),
                    t("logs.credential"),
                    t("logs.status"),
                    t("logs.latency"),
                    t("logs.errorClass"),
                    t("logs.error"),
                  ].map((h) => (
                    <th key={h} scope="col" className="px-2 py-1.5 text-left font-semibold">
                      {h}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
                {attempts.map((a) => (
                  <tr key={a.attempt}>
                    <td className="px-2 py-1.5">{a.attempt}</td>
                    <td className="px-2 py-1.5">{a.provider}</td>
                    <td className="px-2 py-1.5">{a.credential_id ?? "—"}</td>
                    <td className="px-2 py-1.5">
                      {a.status ? <Badge tone={statusTone(a.status)}>{a.status}</Badge> : "—"}
                    </td>
                    <td className="px-2 py-1.5">{t("logs.ms", { ms: a.latency_ms })}</td>
                    <td className="px-2 py-1.5">{a.error_class ?? "—"}</td>
                    <td className="px-2 py-1.5 break-all">{a.error ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {bodies ? (
        <section className="space-y-3">
          <h3 className="font-semibold">{t("logs.bodies")}</h3>
          <Body title={t("logs.requestBody")} text={bodies.request_body} truncated={bodies.request_truncated} />
          <Body title={t("logs.responseBody")} text={bodies.response_body} truncated={bodies.response_truncated} />
        </section>
      ) : (
        <p className="text-zinc-600 dark:text-zinc-400">{t("logs.noBodies")}</p>
      )}
    </div>
  );
}

function Body({ title, text, truncated }: { title: string; text: string | null | undefined; truncated: boolean }) {
  const { t } = useTranslation();
  return (
    <div>
      <h4 className="mb-1 text-xs font-semibold text-zinc-600 dark:text-zinc-400">
        {title} {truncated ? <Badge tone="amber">{t("logs.truncated")}</Badge> : null}
      </h4>
      <pre
        tabIndex={0}
        className="max-h-64 overflow-auto rounded bg-zinc-100 p-2 font-mono text-xs whitespace-pre-wrap dark:bg-zinc-800"
      >
        {text ?? "—"}
      </pre>
    </div>
  );
}
