// Model routes: each client-facing model name with its strategy and
// targets; admins create, edit and delete them (viewers only read).
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../../api/errors";
import { useDeleteRoute, useRoutes, type ModelRoute } from "../../api/routes";
import { useCanWrite } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { ConfirmDialog, Dialog } from "../../components/Dialog";
import { ErrorNote, Loading, Page } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { RouteForm } from "./RouteForm";
import { targetSummary } from "./routeSchema";

export function RoutesPage() {
  const { t } = useTranslation();
  const routes = useRoutes();
  const canWrite = useCanWrite();
  const toast = useToast();
  const remove = useDeleteRoute();
  const [editing, setEditing] = useState<ModelRoute | "new" | null>(null);
  const [deleting, setDeleting] = useState<ModelRoute | null>(null);

  const columns: ColumnDef<ModelRoute>[] = [
    {
      id: "name",
      header: t("routes.name"),
      accessorFn: (r) => r.name,
      cell: ({ row }) => <span className="font-mono font-medium">{row.original.name}</span>,
    },
    {
      id: "strategy",
      header: t("routes.strategy"),
      accessorFn: (r) => t(`routes.strategies.${r.strategy}`, { defaultValue: r.strategy }),
    },
    {
      id: "targets",
      header: t("routes.targets"),
      accessorFn: (r) => targetSummary(r),
      enableSorting: false,
      cell: ({ row }) => <span className="font-mono text-xs break-all">{targetSummary(row.original)}</span>,
    },
    {
      id: "enabled",
      header: t("routes.status"),
      accessorFn: (r) => r.enabled,
      cell: ({ row }) => (
        <Badge tone={row.original.enabled ? "green" : "zinc"}>
          {t(row.original.enabled ? "common.enabled" : "common.disabled")}
        </Badge>
      ),
    },
  ];
  if (canWrite) {
    columns.push({
      id: "actions",
      header: () => <span className="sr-only">{t("common.actions")}</span>,
      enableSorting: false,
      cell: ({ row }) => (
        <div className="flex justify-end gap-1.5">
          <Button size="sm" onClick={() => setEditing(row.original)}>
            {t("common.edit")}
            <span className="sr-only"> {row.original.name}</span>
          </Button>
          <Button size="sm" variant="danger" onClick={() => setDeleting(row.original)}>
            {t("common.delete")}
            <span className="sr-only"> {row.original.name}</span>
          </Button>
        </div>
      ),
    });
  }

  return (
    <Page
      title={t("nav.routes")}
      description={t("routes.description")}
      actions={
        canWrite ? (
          <Button variant="primary" onClick={() => setEditing("new")}>
            {t("routes.new")}
          </Button>
        ) : null
      }
    >
      {routes.isPending ? <Loading /> : null}
      {routes.isError ? <ErrorNote error={routes.error} /> : null}
      {routes.data ? (
        <DataTable
          label={t("nav.routes")}
          data={routes.data}
          columns={columns}
          rowId={(r) => r.name}
          initialSort={[{ id: "name", desc: false }]}
          empty={t("routes.empty")}
        />
      ) : null}
      <Dialog
        open={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === "new" ? t("routes.new") : t("routes.editTitle", { name: editing?.name ?? "" })}
        wide
      >
        {editing !== null ? (
          <RouteForm
            route={editing === "new" ? undefined : editing}
            onDone={(r) => {
              setEditing(null);
              toast.show(t(editing === "new" ? "routes.createdToast" : "routes.saved", { name: r.name }));
            }}
          />
        ) : null}
      </Dialog>
      <ConfirmDialog
        open={deleting !== null}
        title={t("routes.deleteTitle")}
        message={t("routes.deleteText", { name: deleting?.name ?? "" })}
        confirmLabel={t("common.delete")}
        busy={remove.isPending}
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const r = deleting;
          if (!r) return;
          remove.mutate(r.name, {
            onSuccess: () => {
              setDeleting(null);
              toast.show(t("routes.deleted", { name: r.name }));
            },
            onError: (e) => toast.show(errorMessage(e), "error"),
          });
        }}
      />
    </Page>
  );
}
