// The Overview's charts (recharts): requests and errors, and tokens, per
// bucket over the chosen range. Loaded with the Overview page only.
import {
  Area,
  AreaChart,
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { useTranslation } from "react-i18next";
import type { TrendPoint } from "./overviewData";

function tickOf(bucket: "hour" | "day", locale: string) {
  return (at: number) =>
    new Date(at).toLocaleString(
      locale,
      bucket === "day" ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" },
    );
}

export function OverviewCharts({ points, bucket }: { points: TrendPoint[]; bucket: "hour" | "day" }) {
  const { t, i18n } = useTranslation();
  const tick = tickOf(bucket, i18n.language);
  const label = (at: unknown) => (typeof at === "number" ? new Date(at).toLocaleString(i18n.language) : "");
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <figure className="rounded-lg border border-zinc-200 bg-white p-3 dark:border-zinc-700 dark:bg-zinc-900">
        <figcaption className="mb-2 text-sm font-semibold">{t("overview.requestsChart")}</figcaption>
        <div className="h-56">
          <ResponsiveContainer width="100%" height="100%">
            <BarChart data={points}>
              <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.3} />
              <XAxis dataKey="at" tickFormatter={tick} fontSize={12} />
              <YAxis allowDecimals={false} fontSize={12} width={48} />
              <Tooltip labelFormatter={label} />
              <Legend />
              <Bar dataKey="requests" name={t("overview.requests")} fill="#4f46e5" />
              <Bar dataKey="errors" name={t("overview.errors")} fill="#dc2626" />
            </BarChart>
          </ResponsiveContainer>
        </div>
      </figure>
      <figure className="rounded-lg border border-zinc-200 bg-white p-3 dark:border-zinc-700 dark:bg-zinc-900">
        <figcaption className="mb-2 text-sm font-semibold">{t("overview.tokensChart")}</figcaption>
        <div className="h-56">
          <ResponsiveContainer width="100%" height="100%">
            <AreaChart data={points}>
              <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.3} />
              <XAxis dataKey="at" tickFormatter={tick} fontSize={12} />
              <YAxis fontSize={12} width={56} />
              <Tooltip labelFormatter={label} />
              <Legend />
              <Area
                dataKey="input"
                name={t("overview.input")}
                stackId="t"
                stroke="#0891b2"
                fill="#0891b2"
                fillOpacity={0.3}
              />
              <Area
                dataKey="output"
                name={t("overview.output")}
                stackId="t"
                stroke="#7c3aed"
                fill="#7c3aed"
                fillOpacity={0.3}
              />
            </AreaChart>
          </ResponsiveContainer>
        </div>
      </figure>
    </div>
  );
}
