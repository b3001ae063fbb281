// Providers: every built-in and custom provider with its state; enable or
// disable, delete custom ones, open one to edit, or create a custom one.
import { Link } from "@tanstack/react-router";
import type { ColumnDef } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useDeleteProvider, useProviders, useSetProviderEnabled, type Provider } from "../../api/providers";
import { useCanWrite } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Button, RowButton } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { actionsColumn } from "../../components/columns";
import { DeleteDialog, Dialog } from "../../components/Dialog";
import { Loaded, Page } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { ProviderForm } from "./ProviderForm";
import { providerState } from "./state";

export function ProvidersPage() {
  const { t } = useTranslation();
  const providers = useProviders();
  const canWrite = useCanWrite();
  const toast = useToast();
  const setEnabled = useSetProviderEnabled();
  const remove = useDeleteProvider();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Provider | null>(null);

  const columns = useMemo<ColumnDef<Provider>[]>(() => {
    const cols: ColumnDef<Provider>[] = [
      {
        id: "name",
        header: t("providers.name"),
        accessorFn: (p) => p.name,
        cell: ({ row }) => (
          <Link
            to="/providers/$name"
            params={{ name: row.original.name }}
            className="font-medium text-indigo-700 underline-offset-2 hover:underline dark:text-indigo-300"
          >
            {row.original.name}
          </Link>
        ),
      },
      {
        id: "kind",
        header: t("providers.kind"),
        accessorFn: (p) => p.kind,
        cell: ({ row }) => (
          <span className="flex items-center gap-1.5">
            {row.original.kind}
            {row.original.builtin ? <Badge tone="indigo">{t("providers.builtin")}</Badge> : null}
          </span>
        ),
      },
      {
        id: "state",
        header: t("providers.stateLabel"),
        accessorFn: (p) => t(providerState(p).key),
        cell: ({ row }) => {
          const s = providerState(row.original);
          return <Badge tone={s.tone}>{t(s.key)}</Badge>;
        },
      },
      { id: "credentials", header: t("providers.credentials"), accessorFn: (p) => p.credentials },
      {
        id: "base_url",
        header: t("providers.baseUrl"),
        accessorFn: (p) => p.effective_base_url ?? p.base_url ?? "",
        cell: ({ getValue }) => <span className="font-mono text-xs break-all">{String(getValue())}</span>,
      },
    ];
    if (canWrite) {
      cols.push(
        actionsColumn(t("common.actions"), (p) => (
          <>
            <RowButton
              label={t(p.enabled ? "common.disable" : "common.enable")}
              target={p.name}
              onClick={() =>
                void toast.track(
                  setEnabled.mutateAsync({ name: p.name, enabled: !p.enabled }),
                  t(p.enabled ? "providers.disabled" : "providers.enabled", { name: p.name }),
                )
              }
            />
            {!p.builtin ? (
              <RowButton variant="danger" label={t("common.delete")} target={p.name} onClick={() => setDeleting(p)} />
            ) : null}
          </>
        )),
      );
    }
    return cols;
  }, [t, canWrite, setEnabled, toast]);

  return (
    <Page
      title={t("nav.providers")}
      description={t("providers.description")}
      actions={
        canWrite ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            {t("providers.newCustom")}
          </Button>
        ) : null
      }
    >
      <Loaded query={providers}>
        {(data) => (
          <DataTable
            label={t("nav.providers")}
            data={data}
            columns={columns}
            rowId={(p) => p.name}
            initialSort={[{ id: "name", desc: false }]}
          />
        )}
      </Loaded>
      <Dialog open={creating} onClose={() => setCreating(false)} title={t("providers.newCustom")} wide>
        <ProviderForm
          mode="create"
          onDone={(p) => {
            setCreating(false);
            toast.show(t("providers.created", { name: p.name }));
          }}
        />
      </Dialog>
      <DeleteDialog
        target={deleting}
        onClose={() => setDeleting(null)}
        title={t("providers.deleteTitle")}
        message={(p) => t("providers.deleteText", { name: p.name })}
        remove={(p) => remove.mutateAsync(p.name)}
        done={(p) => t("providers.deleted", { name: p.name })}
      />
    </Page>
  );
}
