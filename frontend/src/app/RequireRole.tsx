// Pages only some roles may open (a `user` following an old link to
// /providers gets an explanation, not a page of 403s).
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useSession, type Role } from "../auth/session";
import { Page } from "../components/Page";

export function RequireRole({ roles, children }: { roles: readonly Role[]; children: ReactNode }) {
  const { t } = useTranslation();
  const session = useSession();
  if (roles.includes(session.role)) return children;
  return (
    <Page title={t("common.forbiddenTitle")}>
      <p className="text-sm text-zinc-700 dark:text-zinc-300">
        {t("common.forbidden", { role: t(`roles.${session.role}`) })}
      </p>
    </Page>
  );
}
