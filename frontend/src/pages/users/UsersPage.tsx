// Users: roles, enabled, password sign-in, key counts; create, edit,
// delete; open one to manage their keys.
import { Link } from "@tanstack/react-router";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useDeleteUser, useUsers, type User } from "../../api/users";
import { useCanWrite, useSession } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Button, RowButton } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { actionsColumn, timeColumn } from "../../components/columns";
import { DeleteDialog, Dialog } from "../../components/Dialog";
import { Loaded, Page } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { UserForm } from "./UserForm";

export function UsersPage() {
  const { t, i18n } = useTranslation();
  const users = useUsers();
  const canWrite = useCanWrite();
  const me = useSession();
  const toast = useToast();
  const remove = useDeleteUser();
  const [editing, setEditing] = useState<User | "new" | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);

  const columns: ColumnDef<User>[] = [
    {
      id: "name",
      header: t("users.name"),
      accessorFn: (u) => u.name,
      cell: ({ row }) => (
        <Link
          to="/users/$id"
          params={{ id: String(row.original.id) }}
          className="font-medium text-indigo-700 underline-offset-2 hover:underline dark:text-indigo-300"
        >
          {row.original.name}
        </Link>
      ),
    },
    { id: "role", header: t("users.role"), accessorFn: (u) => t(`roles.${u.role}`) },
    {
      id: "enabled",
      header: t("users.status"),
      accessorFn: (u) => u.enabled,
      cell: ({ row }) => (
        <Badge tone={row.original.enabled ? "green" : "zinc"}>
          {t(row.original.enabled ? "common.enabled" : "common.disabled")}
        </Badge>
      ),
    },
    { id: "password", header: t("users.password"), accessorFn: (u) => t(u.has_password ? "common.yes" : "common.no") },
    { id: "keys", header: t("users.keys"), accessorFn: (u) => u.keys },
    timeColumn("created", t("users.created"), (u) => u.created_at, i18n.language),
  ];
  if (canWrite) {
    columns.push(
      actionsColumn(t("common.actions"), (u) => (
        <>
          <RowButton label={t("common.edit")} target={u.name} onClick={() => setEditing(u)} />
          {u.id !== me.user_id ? (
            <RowButton variant="danger" label={t("common.delete")} target={u.name} onClick={() => setDeleting(u)} />
          ) : null}
        </>
      )),
    );
  }

  return (
    <Page
      title={t("nav.users")}
      description={t("users.description")}
      actions={
        canWrite ? (
          <Button variant="primary" onClick={() => setEditing("new")}>
            {t("users.new")}
          </Button>
        ) : null
      }
    >
      <Loaded query={users}>
        {(data) => (
          <DataTable
            label={t("nav.users")}
            data={data}
            columns={columns}
            rowId={(u) => String(u.id)}
            initialSort={[{ id: "name", desc: false }]}
          />
        )}
      </Loaded>
      <Dialog
        open={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === "new" ? t("users.new") : t("users.editTitle")}
      >
        {editing !== null ? (
          <UserForm
            user={editing === "new" ? undefined : editing}
            onDone={(u) => {
              setEditing(null);
              toast.show(t(editing === "new" ? "users.createdToast" : "users.saved", { name: u.name }));
            }}
          />
        ) : null}
      </Dialog>
      <DeleteDialog
        target={deleting}
        onClose={() => setDeleting(null)}
        title={t("users.deleteTitle")}
        message={(u) => t("users.deleteText", { name: u.name })}
        remove={(u) => remove.mutateAsync(u.id)}
        done={(u) => t("users.deleted", { name: u.name })}
      />
    </Page>
  );
}
