// One provider (`/providers/openai`): its state and settings, the editor
// for admins (a read-only view for viewers), and the way to its
// credentials; for an OAuth kind, logging accounts in.
import { Link, useNavigate } from "@tanstack/react-router";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { isOAuthKind } from "../../api/oauth";
import { useDeleteProvider, useProvider, useSetProviderEnabled, type Provider } from "../../api/providers";
import { useCanWrite } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { DeleteDialog } from "../../components/Dialog";
import { Card, Loaded, Page } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { OAuthDialogs, type OAuthDialogTarget } from "../credentials/OAuthDialogs";
import { ProviderForm } from "./ProviderForm";
import { providerState, settingsOf } from "./state";

export function ProviderPage({ name }: { name: string }) {
  const { t } = useTranslation();
  const provider = useProvider(name);
  return (
    <Page title={name} description={t("providers.detailDescription")}>
      <Loaded query={provider}>{(data) => <Detail provider={data} />}</Loaded>
    </Page>
  );
}

function Detail({ provider: p }: { provider: Provider }) {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const toast = useToast();
  const navigate = useNavigate();
  const setEnabled = useSetProviderEnabled();
  const remove = useDeleteProvider();
  const [deleting, setDeleting] = useState(false);
  const [oauth, setOAuth] = useState<OAuthDialogTarget>(null);
  const state = providerState(p);
  const s = settingsOf(p);

  return (
    <>
      <Card
        title={t("providers.summary")}
        actions={
          <div className="flex flex-wrap gap-2">
            <Link
              to="/credentials"
              search={{ provider: p.name }}
              className="rounded-md border border-zinc-300 px-3 py-1.5 text-sm font-medium hover:bg-zinc-50 dark:border-zinc-600 dark:hover:bg-zinc-800"
            >
              {t("providers.viewCredentials", { count: p.credentials })}
            </Link>
            {canWrite ? (
              <Button
                size="sm"
                onClick={() =>
                  void toast.track(
                    setEnabled.mutateAsync({ name: p.name, enabled: !p.enabled }),
                    t(p.enabled ? "providers.disabled" : "providers.enabled", { name: p.name }),
                  )
                }
              >
                {t(p.enabled ? "common.disable" : "common.enable")}
              </Button>
            ) : null}
            {canWrite && !p.builtin ? (
              <Button size="sm" variant="danger" onClick={() => setDeleting(true)}>
                {t("common.delete")}
              </Button>
            ) : null}
          </div>
        }
      >
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.stateLabel")}</dt>
          <dd>
            <Badge tone={state.tone}>{t(state.key)}</Badge>
          </dd>
          <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.kind")}</dt>
          <dd>
            {p.kind} {p.builtin ? <Badge tone="indigo">{t("providers.builtin")}</Badge> : null}
          </dd>
          <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.effectiveUrl")}</dt>
          <dd className="font-mono text-xs break-all">{p.effective_base_url ?? "—"}</dd>
          {s.protocol ? (
            <>
              <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.protocol")}</dt>
              <dd>{t(`protocols.${s.protocol}`)}</dd>
            </>
          ) : null}
          <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.strategy")}</dt>
          <dd>{t(`providers.strategies.${p.credential_strategy}`)}</dd>
          <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.models")}</dt>
          <dd>{s.models?.length ? s.models.join(", ") : t("providers.anyModel")}</dd>
          <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.mask")}</dt>
          <dd className="font-mono text-xs">{s.json_param_mask?.length ? s.json_param_mask.join(", ") : "—"}</dd>
          <dt className="font-medium text-zinc-600 dark:text-zinc-400">{t("providers.headers")}</dt>
          <dd className="font-mono text-xs break-all">
            {s.headers && Object.keys(s.headers).length
              ? Object.entries(s.headers)
                  .map(([k, v]) => `${k}: ${v}`)
                  .join("; ")
              : "—"}
          </dd>
        </dl>
      </Card>
      {isOAuthKind(p.kind) ? (
        <Card
          title={t("oauth.accounts")}
          actions={
            canWrite ? (
              <div className="flex flex-wrap gap-2">
                <Button size="sm" onClick={() => setOAuth({ kind: "import", provider: p.name, providerKind: p.kind })}>
                  {t("oauth.import.button")}
                </Button>
                <Button
                  size="sm"
                  variant="primary"
                  onClick={() => setOAuth({ kind: "login", provider: p.name, providerKind: p.kind })}
                >
                  {t("oauth.login")}
                </Button>
              </div>
            ) : null
          }
        >
          <p className="text-sm text-zinc-700 dark:text-zinc-300">{t("oauth.accountsText")}</p>
        </Card>
      ) : null}
      <OAuthDialogs target={oauth} onClose={() => setOAuth(null)} />
      {canWrite ? (
        <Card title={t("providers.settings")}>
          <ProviderForm
            key={JSON.stringify(p)}
            mode="edit"
            provider={p}
            onDone={() => toast.show(t("providers.saved", { name: p.name }))}
          />
        </Card>
      ) : null}
      <DeleteDialog
        target={deleting ? p : null}
        onClose={() => setDeleting(false)}
        title={t("providers.deleteTitle")}
        message={(x) => t("providers.deleteText", { name: x.name })}
        remove={(x) => remove.mutateAsync(x.name)}
        done={(x) => t("providers.deleted", { name: x.name })}
        onDeleted={() => void navigate({ to: "/providers" })}
      />
    </>
  );
}
