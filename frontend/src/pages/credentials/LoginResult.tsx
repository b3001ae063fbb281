// What a finished login or import made: the credential, created or
// updated, with its account and plan.
import { useTranslation } from "react-i18next";
import type { LoginDone } from "../../api/oauth";
import { Badge } from "../../components/Badge";
import { accountOf } from "./oauthLogic";

export function LoginResult({ result }: { result: LoginDone }) {
  const { t } = useTranslation();
  const c = result.credential;
  const account = accountOf(c);
  const who = account?.email ?? account?.accountId ?? c.name;
  return (
    <div role="status" className="space-y-2 text-sm">
      <p>
        {t(result.status === "updated" ? "oauth.done.updated" : "oauth.done.created", { name: c.name, account: who })}
      </p>
      {account?.plan || account?.project ? (
        <p className="flex flex-wrap gap-2">
          {account.plan ? <Badge tone="indigo">{t("oauth.plan", { plan: account.plan })}</Badge> : null}
          {account.project ? <Badge>{t("oauth.project", { project: account.project })}</Badge> : null}
        </p>
      ) : null}
    </div>
  );
}
