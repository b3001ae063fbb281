// One user (`/users/3`): who they are and their keys.
import { Link } from "@tanstack/react-router";
import { useTranslation } from "react-i18next";
import { useUser } from "../../api/users";
import { useCanWrite } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Loaded, Page } from "../../components/Page";
import { KeysPanel } from "./KeysPanel";

export function UserKeysPage({ id }: { id: number }) {
  const { t } = useTranslation();
  const user = useUser(id);
  const canWrite = useCanWrite();
  return (
    <Page
      title={user.data?.name ?? t("users.user")}
      description={
        user.data ? (
          <span className="flex items-center gap-2">
            {t(`roles.${user.data.role}`)}
            <Badge tone={user.data.enabled ? "green" : "zinc"}>
              {t(user.data.enabled ? "common.enabled" : "common.disabled")}
            </Badge>
          </span>
        ) : undefined
      }
      actions={
        <Link to="/users" className="text-sm text-indigo-700 underline dark:text-indigo-300">
          {t("users.back")}
        </Link>
      }
    >
      <Loaded query={user}>
        {(data) => <KeysPanel owner={id} canWrite={canWrite} title={t("users.keysOf", { name: data.name })} />}
      </Loaded>
    </Page>
  );
}
