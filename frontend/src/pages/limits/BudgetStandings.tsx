// Where every budget stands (`GET /budgets`): per user or key and period,
// the amount, the settled spend, what requests in flight reserved, what is
// left and when it resets (in the reader's time), with a badge once the
// warning threshold is reached or nothing is left.
import type { ColumnDef } from "@tanstack/react-table";
import { useTranslation } from "react-i18next";
import { useBudgets, type BudgetLine } from "../../api/budgets";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { timeColumn } from "../../components/columns";
import { Card, Loaded } from "../../components/Page";
import { formatUsd } from "../../lib/format";

/** `user:alice` → `["user", "alice"]`. */
function splitScope(scope: string): [string, string] {
  const colon = scope.indexOf(":");
  return colon < 0 ? ["", scope] : [scope.slice(0, colon), scope.slice(colon + 1)];
}

export function BudgetStandings() {
  const { t, i18n } = useTranslation();
  const budgets = useBudgets();
  const title = t("limitsPage.standings.title");

  const usd = (id: keyof BudgetLine & `${string}_usd`, header: string): ColumnDef<BudgetLine> => ({
    id,
    header,
    accessorFn: (l) => (l[id] == null ? undefined : Number(l[id])),
    sortUndefined: "last",
    cell: ({ row }) => <span className="tabular-nums">{formatUsd(row.original[id])}</span>,
  });
  const columns: ColumnDef<BudgetLine>[] = [
    {
      id: "scope",
      header: t("limitsPage.standings.scope"),
      accessorFn: (l) => l.scope,
      cell: ({ row }) => {
        const [kind, name] = splitScope(row.original.scope);
        return (
          <span className="whitespace-nowrap">
            <span className="text-zinc-600 dark:text-zinc-400">
              {t(`limitsPage.kinds.${kind}`, { defaultValue: kind })}
            </span>{" "}
            <span className="font-mono font-medium">{name}</span>
          </span>
        );
      },
    },
    {
      id: "period",
      header: t("limitsPage.standings.period"),
      accessorFn: (l) => t(`limitsPage.periods.${l.period}`),
    },
    usd("limit_usd", t("limitsPage.standings.limit")),
    usd("spent_usd", t("limitsPage.standings.spent")),
    usd("reserved_usd", t("limitsPage.standings.reserved")),
    usd("remaining_usd", t("limitsPage.standings.remaining")),
    timeColumn(
      "resets",
      t("limitsPage.standings.resets"),
      (l) => l.resets_at,
      i18n.language,
      t("limitsPage.standings.never"),
    ),
    {
      id: "status",
      header: t("limitsPage.standings.status"),
      accessorFn: (l) => (l.exhausted ? 2 : l.warning ? 1 : 0),
      cell: ({ row }) =>
        row.original.exhausted ? (
          <Badge tone="red">{t("limitsPage.standings.exhausted")}</Badge>
        ) : row.original.warning ? (
          <Badge tone="amber">{t("limitsPage.standings.warning")}</Badge>
        ) : (
          <Badge tone="green">{t("limitsPage.standings.ok")}</Badge>
        ),
    },
  ];

  return (
    <Card
      title={title}
      actions={
        <Button size="sm" onClick={() => void budgets.refetch()} disabled={budgets.isFetching}>
          {t("limitsPage.standings.refresh")}
        </Button>
      }
    >
      <Loaded query={budgets}>
        {(view) =>
          view.enabled ? (
            <div className="space-y-2">
              <p className="text-sm text-zinc-600 dark:text-zinc-400">
                {t("limitsPage.standings.about", {
                  timezone: view.timezone ?? "UTC",
                  backend: view.backend ?? "memory",
                })}
              </p>
              <DataTable
                label={title}
                data={view.budgets}
                columns={columns}
                rowId={(l) => `${l.scope}/${l.period}`}
                initialSort={[{ id: "scope", desc: false }]}
              />
            </div>
          ) : (
            <p className="text-sm text-zinc-700 dark:text-zinc-300">{t("limitsPage.standings.empty")}</p>
          )
        }
      </Loaded>
    </Card>
  );
}
