// One provider (`/providers/openai`): its state and settings, the editor
// for admins (a read-only view for viewers), and the way to its
// credentials.
import { Link, useNavigate } from "@tanstack/react-router";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../../api/errors";
import { useDeleteProvider, useProvider, useSetProviderEnabled, type Provider } from "../../api/providers";
import { useCanWrite } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { ConfirmDialog } from "../../components/Dialog";
import { Card, ErrorNote, Loading, Page } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { ProviderForm } from "./ProviderForm";
import { providerState, settingsOf } from "./state";

export function ProviderPage({ name }: { name: string }) {
  const { t } = useTranslation();
  const provider = useProvider(name);
  return (
    <Page title={name} description={t("providers.detailDescription")}>
      {provider.isPending ? <Loading /> : null}
      {provider.isError ? <ErrorNote error={provider.error} /> : null}
      {provider.data ? <Detail provider={provider.data} /> : null}
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
                  setEnabled.mutate(
                    { name: p.name, enabled: !p.enabled },
                    { onError: (e) => toast.show(errorMessage(e), "error") },
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
      <ConfirmDialog
        open={deleting}
        title={t("providers.deleteTitle")}
        message={t("providers.deleteText", { name: p.name })}
        confirmLabel={t("common.delete")}
        busy={remove.isPending}
        onCancel={() => setDeleting(false)}
        onConfirm={() =>
          remove.mutate(p.name, {
            onSuccess: () => {
              toast.show(t("providers.deleted", { name: p.name }));
              void navigate({ to: "/providers" });
            },
            onError: (e) => toast.show(errorMessage(e), "error"),
          })
        }
      />
    </>
  );
}
