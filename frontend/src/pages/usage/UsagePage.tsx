// The usage explorer: a range and filters (provider, model, user, key),
// group-by and time buckets; totals, a trend chart, the groups in a table
// and a CSV export of exactly what is shown. Role `user` explores their own.
import { zodResolver } from "@hookform/resolvers/zod";
import type { ColumnDef } from "@tanstack/react-table";
import { lazy, Suspense, useMemo, useState } from "react";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { useUsage, type UsageRow } from "../../api/usage";
import { useSeesAll } from "../../auth/session";
import { Button } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { Checkbox, Field, Input, Select } from "../../components/Field";
import { Card, ErrorNote, Loading, Page } from "../../components/Page";
import { formatNumber, formatTime, formatUsd } from "../../lib/format";
import { summarize, trendOf } from "../overview/overviewData";
import {
  BUCKETS,
  GROUPS,
  defaultValues,
  groupValue,
  toCsv,
  toFilter,
  usageSchema,
  type UsageValues,
} from "./usageQuery";

const OverviewCharts = lazy(() => import("../overview/OverviewCharts").then((m) => ({ default: m.OverviewCharts })));

/** Offers `text` as a file download. */
function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

/** `values`, asked for now: an open-ended range ends at this moment. */
function asked(values: UsageValues): { applied: UsageValues; at: number } {
  return { applied: values, at: Date.now() };
}

export function UsagePage() {
  const { t, i18n } = useTranslation();
  const seesAll = useSeesAll();
  const [query, setQuery] = useState(() => asked(defaultValues(Date.now())));
  const { applied } = query;
  const filter = useMemo(() => toFilter(applied), [applied]);
  const usage = useUsage(filter, !seesAll);
  const form = useForm<UsageValues>({ resolver: zodResolver(usageSchema), defaultValues: applied });
  const { errors } = form.formState;
  const rows = useMemo(() => usage.data ?? [], [usage.data]);
  const seconds = filter.from
    ? ((filter.to ? Date.parse(filter.to) : query.at) - Date.parse(filter.from)) / 1000
    : 24 * 3600;
  const summary = usage.data ? summarize(rows, seconds) : null;
  const points = useMemo(() => trendOf(rows), [rows]);
  const n = (v: number) => formatNumber(v, i18n.language);
  const groups = GROUPS.filter((g) => applied.group_by.includes(g));

  const columns: ColumnDef<UsageRow>[] = [
    ...(applied.bucket
      ? [
          {
            id: "bucket",
            header: t("usage.bucketStart"),
            accessorFn: (r: UsageRow) => r.bucket_start ?? "",
            cell: ({ row }: { row: { original: UsageRow } }) => formatTime(row.original.bucket_start, i18n.language),
          },
        ]
      : []),
    ...groups.map((g) => ({
      id: g,
      header: t(`usage.groups.${g}`),
      accessorFn: (r: UsageRow) => groupValue(r, g) || "—",
    })),
    { id: "requests", header: t("usage.requests"), accessorFn: (r) => r.requests },
    { id: "errors", header: t("usage.errors"), accessorFn: (r) => r.errors },
    {
      id: "input",
      header: t("usage.input"),
      accessorFn: (r) => r.input_tokens,
      cell: ({ getValue }) => n(getValue<number>()),
    },
    {
      id: "output",
      header: t("usage.output"),
      accessorFn: (r) => r.output_tokens,
      cell: ({ getValue }) => n(getValue<number>()),
    },
    {
      id: "cache",
      header: t("usage.cacheRead"),
      accessorFn: (r) => r.cache_read_tokens,
      cell: ({ getValue }) => n(getValue<number>()),
    },
    {
      id: "cost",
      header: t("usage.cost"),
      accessorFn: (r) => r.cost,
      cell: ({ row }) => (
        <span title={t("usage.pricedOf", { priced: row.original.priced_requests, requests: row.original.requests })}>
          {formatUsd(row.original.cost)}
        </span>
      ),
    },
    { id: "p50", header: t("usage.p50"), accessorFn: (r) => r.latency_p50_ms },
    { id: "p95", header: t("usage.p95"), accessorFn: (r) => r.latency_p95_ms },
  ];

  return (
    <Page
      title={t("nav.usage")}
      description={seesAll ? t("usage.description") : t("usage.mineDescription")}
      actions={
        <Button
          disabled={!usage.data || rows.length === 0}
          onClick={() =>
            download(
              `gproxy-usage-${new Date().toISOString().slice(0, 16)}.csv`,
              toCsv(rows, groups, Boolean(applied.bucket)),
            )
          }
        >
          {t("usage.exportCsv")}
        </Button>
      }
    >
      <form
        role="search"
        aria-label={t("usage.filters")}
        noValidate
        className="grid gap-3 rounded-lg border border-zinc-200 bg-white p-3 sm:grid-cols-2 lg:grid-cols-4 dark:border-zinc-700 dark:bg-zinc-900"
        onSubmit={form.handleSubmit((v) => setQuery(asked(v)))}
      >
        <Field label={t("usage.from")} error={errors.from?.message}>
          {(p) => <Input {...p} type="datetime-local" {...form.register("from")} />}
        </Field>
        <Field label={t("usage.to")} hint={t("usage.toHint")} error={errors.to?.message}>
          {(p) => <Input {...p} type="datetime-local" {...form.register("to")} />}
        </Field>
        <Field label={t("usage.provider")} error={errors.provider?.message}>
          {(p) => <Input {...p} {...form.register("provider")} />}
        </Field>
        <Field label={t("usage.model")} error={errors.model?.message}>
          {(p) => <Input {...p} {...form.register("model")} />}
        </Field>
        {seesAll ? (
          <Field label={t("usage.userId")} error={errors.user_id?.message}>
            {(p) => <Input {...p} inputMode="numeric" {...form.register("user_id")} />}
          </Field>
        ) : null}
        <Field label={t("usage.keyId")} error={errors.key_id?.message}>
          {(p) => <Input {...p} inputMode="numeric" {...form.register("key_id")} />}
        </Field>
        <Field label={t("usage.bucket")} error={errors.bucket?.message}>
          {(p) => (
            <Select {...p} {...form.register("bucket")}>
              {BUCKETS.map((b) => (
                <option key={b} value={b}>
                  {t(`usage.buckets.${b || "none"}`)}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <fieldset className="sm:col-span-2 lg:col-span-3">
          <legend className="mb-1 text-sm font-medium text-zinc-800 dark:text-zinc-200">{t("usage.groupBy")}</legend>
          <div className="flex flex-wrap gap-x-4 gap-y-2">
            {GROUPS.filter((g) => seesAll || (g !== "user" && g !== "credential")).map((g) => (
              <Checkbox key={g} label={t(`usage.groups.${g}`)} value={g} {...form.register("group_by")} />
            ))}
          </div>
        </fieldset>
        <div className="flex items-end gap-2">
          <Button type="submit" variant="primary">
            {t("usage.apply")}
          </Button>
        </div>
      </form>

      {usage.isPending ? <Loading /> : null}
      {usage.isError ? <ErrorNote error={usage.error} /> : null}
      {summary ? (
        <Card title={t("usage.totals")}>
          <dl className="grid grid-cols-2 gap-3 text-sm md:grid-cols-4">
            {[
              [t("usage.requests"), n(summary.requests)],
              [t("usage.errors"), n(summary.errors)],
              [t("usage.input"), n(summary.inputTokens)],
              [t("usage.output"), n(summary.outputTokens)],
            ].map(([label, value]) => (
              <div key={label}>
                <dt className="text-xs text-zinc-600 dark:text-zinc-400">{label}</dt>
                <dd className="text-lg font-semibold tabular-nums">{value}</dd>
              </div>
            ))}
          </dl>
        </Card>
      ) : null}
      {applied.bucket && points.length > 0 ? (
        <Suspense fallback={<Loading />}>
          <OverviewCharts points={points} bucket={applied.bucket} />
        </Suspense>
      ) : null}
      {usage.data ? (
        <DataTable
          label={t("usage.tableLabel")}
          data={rows}
          columns={columns}
          rowId={(r) => [r.bucket_start ?? "", ...groups.map((g) => groupValue(r, g))].join("|")}
          empty={t("usage.none")}
          initialSort={applied.bucket ? [{ id: "bucket", desc: true }] : [{ id: "requests", desc: true }]}
        />
      ) : null}
    </Page>
  );
}
