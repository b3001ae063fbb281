// Overview: the instance's health (version, shared state), each provider's
// circuit and credential states (staff), and the traffic over a chosen
// range: requests/min, error rate, p50/p95 latency, tokens, with trend
// charts. Role `user` sees their own traffic only.
import { Link } from "@tanstack/react-router";
import { lazy, Suspense, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useHealth, type ProviderHealth } from "../../api/health";
import { useUsage } from "../../api/usage";
import { useSeesAll } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Card, ErrorNote, Loading, Page } from "../../components/Page";
import { formatNumber, formatUsd } from "../../lib/format";
import { RANGES, circuitTone, credentialCounts, summarize, trendOf, windowOf, type Range } from "./overviewData";

// recharts is most of the page's weight: the figures render first, the
// charts follow in their own chunk, so the landing page stays light.
const OverviewCharts = lazy(() => import("./OverviewCharts").then((m) => ({ default: m.OverviewCharts })));

function Stat({ label, value, note }: { label: string; value: string; note?: string | undefined }) {
  return (
    <div className="rounded-lg border border-zinc-200 bg-white p-3 dark:border-zinc-700 dark:bg-zinc-900">
      <dt className="text-xs text-zinc-600 dark:text-zinc-400">{label}</dt>
      <dd className="mt-1 text-xl font-semibold tabular-nums">{value}</dd>
      {note ? <dd className="text-xs text-zinc-600 dark:text-zinc-400">{note}</dd> : null}
    </div>
  );
}

function ProvidersCard({ providers }: { providers: ProviderHealth[] }) {
  const { t } = useTranslation();
  return (
    <Card title={t("overview.providers")}>
      {providers.length === 0 ? (
        <p className="text-sm text-zinc-600 dark:text-zinc-400">{t("overview.noProviders")}</p>
      ) : (
        <div className="overflow-x-auto">
          <table className="min-w-full text-sm">
            <caption className="sr-only">{t("overview.providers")}</caption>
            <thead>
              <tr className="text-left text-zinc-700 dark:text-zinc-200">
                {["provider", "circuit", "credentials", "inFlight"].map((h) => (
                  <th key={h} scope="col" className="px-2 py-1.5 font-semibold whitespace-nowrap">
                    {t(`overview.col.${h}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
              {providers.map((p) => {
                const c = credentialCounts(p);
                return (
                  <tr key={p.name}>
                    <td className="px-2 py-1.5">
                      <Link
                        to="/credentials"
                        search={{ provider: p.name }}
                        className="font-medium text-indigo-700 underline-offset-2 hover:underline dark:text-indigo-300"
                      >
                        {p.name}
                      </Link>
                      {!p.enabled ? <span className="ml-2 text-xs text-zinc-500">{t("common.disabled")}</span> : null}
                    </td>
                    <td className="px-2 py-1.5">
                      <Badge tone={circuitTone(p.circuit_state)}>
                        {t(`overview.circuit.${p.circuit_state}`, { defaultValue: p.circuit_state })}
                      </Badge>
                    </td>
                    <td className="px-2 py-1.5 whitespace-nowrap">
                      {t("overview.credentialLine", {
                        ok: c.ok,
                        cooling: c.coolingDown,
                        disabled: c.disabled,
                      })}
                    </td>
                    <td className="px-2 py-1.5 tabular-nums">{c.inFlight}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

export function OverviewPage() {
  const { t, i18n } = useTranslation();
  const seesAll = useSeesAll();
  const [range, setRange] = useState<Range>("24h");
  const [now, setNow] = useState(() => Date.now());
  const win = useMemo(() => windowOf(range, now), [range, now]);
  const health = useHealth(seesAll);
  const totals = useUsage({ from: win.from, to: win.to }, !seesAll);
  const trend = useUsage({ from: win.from, to: win.to, bucket: win.bucket }, !seesAll);
  const summary = totals.data ? summarize(totals.data, win.seconds) : null;
  const points = useMemo(() => (trend.data ? trendOf(trend.data) : []), [trend.data]);
  const n = (v: number) => formatNumber(v, i18n.language);
  const ms = (v: number | null) => (v === null ? "—" : t("overview.ms", { ms: n(v) }));

  return (
    <Page
      title={t("nav.overview")}
      description={seesAll ? t("overview.description") : t("overview.mineDescription")}
      actions={
        <div className="flex flex-wrap gap-2">
          <div role="group" aria-label={t("overview.range")} className="inline-flex gap-1">
            {RANGES.map((r) => (
              <Button
                key={r}
                size="sm"
                variant={r === range ? "primary" : "secondary"}
                aria-pressed={r === range}
                onClick={() => {
                  setRange(r);
                  setNow(Date.now());
                }}
              >
                {t(`overview.ranges.${r}`)}
              </Button>
            ))}
          </div>
          <Button
            size="sm"
            onClick={() => {
              setNow(Date.now());
              void health.refetch();
            }}
          >
            {t("overview.refresh")}
          </Button>
        </div>
      }
    >
      <Card title={t("overview.instance")}>
        {health.isPending ? <Loading /> : null}
        {health.isError ? <ErrorNote error={health.error} /> : null}
        {health.data ? (
          <div className="flex flex-wrap items-center gap-3 text-sm">
            <Badge tone={health.data.status === "ok" ? "green" : "red"}>{health.data.status}</Badge>
            <span>gproxy {health.data.version}</span>
            {health.data.shared_state ? (
              <span>
                {t("overview.sharedState", {
                  backend: health.data.shared_state.backend,
                  status: health.data.shared_state.status,
                })}
              </span>
            ) : null}
            {seesAll && health.data.usage_sink && health.data.usage_sink.dropped > 0 ? (
              <Badge tone="amber">{t("overview.dropped", { count: health.data.usage_sink.dropped })}</Badge>
            ) : null}
          </div>
        ) : null}
      </Card>

      <section aria-label={t("overview.traffic")} className="space-y-4">
        {totals.isPending ? <Loading /> : null}
        {totals.isError ? <ErrorNote error={totals.error} /> : null}
        {summary ? (
          summary.requests === 0 ? (
            <Card>
              <p className="text-sm text-zinc-600 dark:text-zinc-400">{t("overview.noTraffic")}</p>
            </Card>
          ) : (
            <dl className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
              <Stat label={t("overview.requests")} value={n(summary.requests)} />
              <Stat
                label={t("overview.perMinute")}
                value={summary.perMinute.toLocaleString(i18n.language, { maximumFractionDigits: 2 })}
              />
              <Stat
                label={t("overview.errorRate")}
                value={
                  summary.errorRate === null
                    ? "—"
                    : (summary.errorRate * 100).toLocaleString(i18n.language, { maximumFractionDigits: 2 }) + " %"
                }
                note={t("overview.errorCount", { count: summary.errors })}
              />
              <Stat
                label={t("overview.p50")}
                value={ms(summary.p50)}
                note={summary.approximate ? t("overview.approximate") : undefined}
              />
              <Stat
                label={t("overview.p95")}
                value={ms(summary.p95)}
                note={summary.approximate ? t("overview.approximate") : undefined}
              />
              <Stat
                label={t("overview.tokens")}
                value={n(summary.inputTokens + summary.outputTokens)}
                note={t("overview.tokenSplit", { input: n(summary.inputTokens), output: n(summary.outputTokens) })}
              />
              <Stat
                label={t("overview.cost")}
                value={formatUsd(summary.cost)}
                note={t("overview.costPriced", { priced: n(summary.pricedRequests), requests: n(summary.requests) })}
              />
            </dl>
          )
        ) : null}
        {trend.isError ? <ErrorNote error={trend.error} /> : null}
        {summary && summary.requests > 0 && points.length > 0 ? (
          <Suspense fallback={<Loading />}>
            <OverviewCharts points={points} bucket={win.bucket} />
          </Suspense>
        ) : null}
      </section>

      {seesAll && health.data?.providers ? <ProvidersCard providers={health.data.providers} /> : null}
    </Page>
  );
}
