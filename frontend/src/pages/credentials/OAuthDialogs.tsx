// The OAuth dialogs the credentials list and the provider page share (log
// in, import a CLI file, quota) and the account cell of an OAuth
// credential.
import { useTranslation } from "react-i18next";
import type { Credential } from "../../api/credentials";
import { Badge } from "../../components/Badge";
import { Dialog } from "../../components/Dialog";
import { formatTime } from "../../lib/format";
import { OAuthImportForm } from "./OAuthImportForm";
import { OAuthLoginForm } from "./OAuthLoginForm";
import { QuotaView } from "./QuotaView";
import { accountOf } from "./oauthLogic";

/** What an OAuth dialog is open for. */
export type OAuthDialogTarget =
  | { kind: "login"; provider: string; providerKind: string; credentialName?: string }
  | { kind: "import"; provider: string; providerKind: string }
  | { kind: "quota"; credential: Credential }
  | null;

export function OAuthDialogs({ target, onClose }: { target: OAuthDialogTarget; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <>
      <Dialog
        open={target?.kind === "login"}
        onClose={onClose}
        title={
          target?.kind === "login"
            ? target.credentialName
              ? t("oauth.reloginTitle", { name: target.credentialName })
              : t("oauth.loginTitle", { provider: target.provider })
            : ""
        }
      >
        {target?.kind === "login" ? (
          <OAuthLoginForm
            provider={target.provider}
            kind={target.providerKind}
            onDone={onClose}
            {...(target.credentialName !== undefined ? { credentialName: target.credentialName } : {})}
          />
        ) : null}
      </Dialog>
      <Dialog
        open={target?.kind === "import"}
        onClose={onClose}
        title={target?.kind === "import" ? t("oauth.import.titleTo", { provider: target.provider }) : ""}
        wide
      >
        {target?.kind === "import" ? (
          <OAuthImportForm provider={target.provider} kind={target.providerKind} onDone={onClose} />
        ) : null}
      </Dialog>
      <Dialog
        open={target?.kind === "quota"}
        onClose={onClose}
        title={target?.kind === "quota" ? t("oauth.quota.title", { name: target.credential.name }) : ""}
      >
        {target?.kind === "quota" ? <QuotaView id={target.credential.id} /> : null}
      </Dialog>
    </>
  );
}

/** An OAuth credential's account: e-mail (or id), plan, project, the
 * token's expiry, and a dead refresh token's reason. */
export function OAuthAccountCell({ credential }: { credential: Credential }) {
  const { t, i18n } = useTranslation();
  const a = accountOf(credential);
  if (!a) return <span className="text-zinc-500">—</span>;
  return (
    <div className="space-y-0.5 text-xs">
      <div className="text-sm font-medium break-all">{a.email ?? a.accountId ?? "—"}</div>
      {a.plan || a.project ? (
        <div className="flex flex-wrap gap-1">
          {a.plan ? <Badge tone="indigo">{t("oauth.plan", { plan: a.plan })}</Badge> : null}
          {a.project ? <Badge>{t("oauth.project", { project: a.project })}</Badge> : null}
        </div>
      ) : null}
      <div className="text-zinc-600 dark:text-zinc-400">
        {t(a.expired ? "oauth.expired" : "oauth.expires", { time: formatTime(a.expiresAt, i18n.language) })}
        {a.refreshable ? null : <> · {t("oauth.noRefresh")}</>}
      </div>
      {a.dead ? (
        <div className="space-y-0.5">
          <Badge tone="red">{t("oauth.dead", { reason: a.dead })}</Badge>
          <div className="text-red-800 dark:text-red-300">{t("oauth.deadFix")}</div>
        </div>
      ) : null}
    </div>
  );
}
