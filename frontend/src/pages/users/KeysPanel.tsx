// A user's keys (or the caller's own, `owner = "me"`): prefix, label,
// scope, expiry, allow-lists, enabled; create (with the one-time reveal),
// edit, enable/disable, delete.
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../../api/errors";
import { useDeleteKey, useKeys, useUpdateKey, type Key, type KeyCreated, type KeyOwner } from "../../api/users";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { ConfirmDialog, Dialog } from "../../components/Dialog";
import { Card, ErrorNote, Loading } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { formatTime } from "../../lib/format";
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
    {
      id: "expires",
      header: t("keys.expires"),
      accessorFn: (k) => k.expires_at ?? "",
      cell: ({ row }) =>
        row.original.expires_at ? formatTime(row.original.expires_at, i18n.language) : t("keys.never"),
    },
    { id: "providers", header: t("keys.providers"), accessorFn: (k) => list(k.allowed_providers) },
    { id: "models", header: t("keys.models"), accessorFn: (k) => list(k.allowed_models) },
    {
      id: "created",
      header: t("keys.created"),
      accessorFn: (k) => k.created_at,
      cell: ({ row }) => formatTime(row.original.created_at, i18n.language),
    },
  ];
  if (canWrite) {
    columns.push({
      id: "actions",
      header: () => <span className="sr-only">{t("common.actions")}</span>,
      enableSorting: false,
      cell: ({ row }) => {
        const k = row.original;
        const name = k.label ?? k.prefix;
        return (
          <div className="flex justify-end gap-1.5">
            <Button
              size="sm"
              onClick={() =>
                update.mutate(
                  { id: k.id, patch: { enabled: !k.enabled } },
                  {
                    onSuccess: () => toast.show(t(k.enabled ? "keys.disabledToast" : "keys.enabledToast", { name })),
                    onError: (e) => toast.show(errorMessage(e), "error"),
                  },
                )
              }
            >
              {t(k.enabled ? "common.disable" : "common.enable")}
              <span className="sr-only"> {name}</span>
            </Button>
            <Button size="sm" onClick={() => setEditing(k)}>
              {t("common.edit")}
              <span className="sr-only"> {name}</span>
            </Button>
            <Button size="sm" variant="danger" onClick={() => setDeleting(k)}>
              {t("common.delete")}
              <span className="sr-only"> {name}</span>
            </Button>
          </div>
        );
      },
    });
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
      {keys.isPending ? <Loading /> : null}
      {keys.isError ? <ErrorNote error={keys.error} /> : null}
      {keys.data ? (
        <DataTable
          label={title}
          data={keys.data}
          columns={columns}
          rowId={(k) => String(k.id)}
          initialSort={[{ id: "created", desc: true }]}
          empty={t("keys.none")}
        />
      ) : null}
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
      <ConfirmDialog
        open={deleting !== null}
        title={t("keys.deleteTitle")}
        message={t("keys.deleteText", { name: deleting?.label ?? deleting?.prefix ?? "" })}
        confirmLabel={t("common.delete")}
        busy={remove.isPending}
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const k = deleting;
          if (!k) return;
          remove.mutate(k.id, {
            onSuccess: () => {
              setDeleting(null);
              toast.show(t("keys.deleted"));
            },
            onError: (e) => toast.show(errorMessage(e), "error"),
          });
        }}
      />
    </Card>
  );
}
