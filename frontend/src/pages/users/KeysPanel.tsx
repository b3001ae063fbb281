// A user's keys (or the caller's own, `owner = "me"`): prefix, label,
// scope, expiry, allow-lists, enabled; create (with the one-time reveal),
// edit, enable/disable, delete.
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useDeleteKey, useKeys, useUpdateKey, type Key, type KeyCreated, type KeyOwner } from "../../api/users";
import { Badge } from "../../components/Badge";
import { Button, RowButton } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { actionsColumn, timeColumn } from "../../components/columns";
import { DeleteDialog, Dialog } from "../../components/Dialog";
import { Card, Loaded } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { KeyForm } from "./KeyForm";
import { KeyReveal } from "./KeyReveal";

function expired(k: Key): boolean {
  return k.expires_at ? new Date(k.expires_at).getTime() <= Date.now() : false;
}

export function KeysPanel({ owner, canWrite, title }: { owner: KeyOwner; canWrite: boolean; title: string }) {
  const { t, i18n } = useTranslation();
  const keys = useKeys(owner);
  const update = useUpdateKey(owner);
  const remove = useDeleteKey(owner);
  const toast = useToast();
  const [editing, setEditing] = useState<Key | "new" | null>(null);
  const [created, setCreated] = useState<KeyCreated | null>(null);
  const [deleting, setDeleting] = useState<Key | null>(null);

  const list = (v: string[] | null | undefined) => (v && v.length ? v.join(", ") : t("keys.any"));
  const columns: ColumnDef<Key>[] = [
    {
      id: "prefix",
      header: t("keys.prefix"),
      accessorFn: (k) => k.prefix,
      cell: ({ row }) => <span className="font-mono text-xs">{row.original.prefix}…</span>,
    },
    { id: "label", header: t("keys.label"), accessorFn: (k) => k.label ?? "" },
    {
      id: "scope",
      header: t("keys.scope"),
      accessorFn: (k) => t(`keys.scopes.${k.scope === "admin" ? "admin" : "proxy"}`),
    },
    {
      id: "status",
      header: t("keys.status"),
      accessorFn: (k) => (expired(k) ? "expired" : k.enabled ? "enabled" : "disabled"),
      cell: ({ row }) => {
        const k = row.original;
        if (expired(k)) return <Badge tone="amber">{t("keys.expired")}</Badge>;
        return <Badge tone={k.enabled ? "green" : "zinc"}>{t(k.enabled ? "common.enabled" : "common.disabled")}</Badge>;
      },
    },
    timeColumn("expires", t("keys.expires"), (k) => k.expires_at, i18n.language, t("keys.never")),
    { id: "providers", header: t("keys.providers"), accessorFn: (k) => list(k.allowed_providers) },
    { id: "models", header: t("keys.models"), accessorFn: (k) => list(k.allowed_models) },
    {
      id: "maxCost",
      header: t("keys.maxCost"),
      accessorFn: (k) => (k.max_cost ? `$${k.max_cost}` : t("keys.noCeiling")),
    },
    timeColumn("created", t("keys.created"), (k) => k.created_at, i18n.language),
  ];
  if (canWrite) {
    columns.push(
      actionsColumn(t("common.actions"), (k) => {
        const name = k.label ?? k.prefix;
        return (
          <>
            <RowButton
              label={t(k.enabled ? "common.disable" : "common.enable")}
              target={name}
              onClick={() =>
                void toast.track(
                  update.mutateAsync({ id: k.id, patch: { enabled: !k.enabled } }),
                  t(k.enabled ? "keys.disabledToast" : "keys.enabledToast", { name }),
                )
              }
            />
            <RowButton label={t("common.edit")} target={name} onClick={() => setEditing(k)} />
            <RowButton variant="danger" label={t("common.delete")} target={name} onClick={() => setDeleting(k)} />
          </>
        );
      }),
    );
  }

  return (
    <Card
      title={title}
      actions={
        canWrite ? (
          <Button variant="primary" onClick={() => setEditing("new")}>
            {t("keys.new")}
          </Button>
        ) : null
      }
    >
      <Loaded query={keys}>
        {(data) => (
          <DataTable
            label={title}
            data={data}
            columns={columns}
            rowId={(k) => String(k.id)}
            initialSort={[{ id: "created", desc: true }]}
            empty={t("keys.none")}
          />
        )}
      </Loaded>
      <Dialog
        open={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === "new" ? t("keys.new") : t("keys.editTitle")}
        wide
      >
        {editing !== null ? (
          <KeyForm
            owner={owner}
            keyRow={editing === "new" ? undefined : editing}
            onCreated={(k) => {
              setEditing(null);
              setCreated(k);
            }}
            onSaved={() => {
              setEditing(null);
              toast.show(t("keys.saved"));
            }}
          />
        ) : null}
      </Dialog>
      <Dialog open={created !== null} onClose={() => setCreated(null)} title={t("keys.revealTitle")}>
        {created ? <KeyReveal created={created} onDone={() => setCreated(null)} /> : null}
      </Dialog>
      <DeleteDialog
        target={deleting}
        onClose={() => setDeleting(null)}
        title={t("keys.deleteTitle")}
        message={(k) => t("keys.deleteText", { name: k.label ?? k.prefix })}
        remove={(k) => remove.mutateAsync(k.id)}
        done={() => t("keys.deleted")}
      />
    </Card>
  );
}
