// Credentials, per provider or all: live state (ok, cooling down until,
// disabled with the reason), requests in flight, weight; add, import
// many, edit, delete, test (result and latency) and re-enable. OAuth
// providers log accounts in (or import a CLI file) instead of adding keys;
// their credentials show the account, the token's expiry, a dead refresh
// token's reason, the live quota, and refresh on demand.
import { useNavigate } from "@tanstack/react-router";
import type { ColumnDef } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  useCredentialStates,
  useCredentials,
  useDeleteCredential,
  useReenableCredential,
  useTestCredential,
  type Credential,
  type CredentialState,
  type TestResult,
} from "../../api/credentials";
import { errorMessage } from "../../api/errors";
import { isOAuthKind, useRefreshCredential } from "../../api/oauth";
import { useProviders } from "../../api/providers";
import { useCanWrite } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Button, RowButton } from "../../components/Button";
import { DataTable } from "../../components/DataTable";
import { actionsColumn } from "../../components/columns";
import { DeleteDialog, Dialog } from "../../components/Dialog";
import { Select } from "../../components/Field";
import { Loaded, Page } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { formatTime } from "../../lib/format";
import { CredentialForm } from "./CredentialForm";
import { ImportForm } from "./ImportForm";
import { OAuthAccountCell, OAuthDialogs, type OAuthDialogTarget } from "./OAuthDialogs";
import { accountOf } from "./oauthLogic";
import { KNOWN_STATES, canReenable, credentialTone } from "./state";

type Editing = { kind: "add" } | { kind: "import" } | { kind: "edit"; credential: Credential } | null;

export function CredentialsPage({ provider }: { provider: string | null }) {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const canWrite = useCanWrite();
  const toast = useToast();
  const providers = useProviders();
  const credentials = useCredentials(provider);
  const ids = useMemo(() => (credentials.data ?? []).map((c) => c.id), [credentials.data]);
  const stateQueries = useCredentialStates(ids);
  const states = new Map<number, CredentialState>();
  for (const q of stateQueries) if (q.data) states.set(q.data.id, q.data);
  const test = useTestCredential();
  const reenable = useReenableCredential();
  const remove = useDeleteCredential();
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<Credential | null>(null);
  const [results, setResults] = useState<Record<number, TestResult | string>>({});
  const [testing, setTesting] = useState<number | null>(null);
  const refresh = useRefreshCredential();
  const [refreshing, setRefreshing] = useState<number | null>(null);
  const [oauthTarget, setOAuthTarget] = useState<OAuthDialogTarget>(null);
  const kindOf = (name: string) => providers.data?.find((p) => p.name === name)?.kind ?? "";
  const providerKind = provider ? kindOf(provider) : "";
  const hasOAuth = (credentials.data ?? []).some((c) => c.oauth);

  const runRefresh = (c: Credential) => {
    setRefreshing(c.id);
    refresh.mutate(c.id, {
      onSuccess: (r) =>
        toast.show(t("oauth.refreshed", { name: c.name, time: formatTime(r.expires_at, i18n.language) }), "success"),
      onError: (e) => toast.show(t("oauth.refreshFailed", { name: c.name, message: errorMessage(e) }), "error"),
      onSettled: () => setRefreshing(null),
    });
  };

  const runTest = (c: Credential) => {
    setTesting(c.id);
    test.mutate(c.id, {
      onSuccess: (r) => {
        setResults((all) => ({ ...all, [c.id]: r }));
        toast.show(
          r.ok
            ? t("credentials.testOk", { name: c.name, ms: r.latency_ms })
            : t("credentials.testFailed", { name: c.name, message: r.message }),
          r.ok ? "success" : "error",
        );
      },
      onError: (e) => setResults((all) => ({ ...all, [c.id]: errorMessage(e) })),
      onSettled: () => setTesting(null),
    });
  };

  const accountColumn: ColumnDef<Credential> = {
    id: "account",
    header: t("oauth.account"),
    accessorFn: (c) => accountOf(c)?.email ?? "",
    cell: ({ row }) => <OAuthAccountCell credential={row.original} />,
  };
  // Rebuilt every render: the live state refreshes every few seconds anyway.
  const columns: ColumnDef<Credential>[] = [
    {
      id: "name",
      header: t("credentials.name"),
      accessorFn: (c) => c.name,
      cell: ({ row }) => <span className="font-medium">{row.original.name}</span>,
    },
    { id: "provider", header: t("credentials.provider"), accessorFn: (c) => c.provider },
    ...(hasOAuth ? [accountColumn] : []),
    {
      id: "masked",
      header: t("credentials.secret"),
      accessorFn: (c) => c.masked,
      cell: ({ row }) => <span className="font-mono text-xs">{row.original.masked}</span>,
    },
    {
      id: "state",
      header: t("credentials.state"),
      accessorFn: (c) => c.state,
      cell: ({ row }) => {
        const c = row.original;
        const live = states.get(c.id);
        const state = live?.state ?? c.state;
        return (
          <div className="space-y-0.5">
            <Badge tone={credentialTone(state)}>
              {KNOWN_STATES.includes(state) ? t(`credentials.states.${state}`) : state}
            </Badge>
            {live?.cooldown_until ? (
              <div className="text-xs text-zinc-600 dark:text-zinc-400">
                {t("credentials.until", { time: formatTime(live.cooldown_until, i18n.language) })}
              </div>
            ) : null}
            {live?.disabled_reason ? (
              <div className="text-xs text-red-800 dark:text-red-300">{live.disabled_reason}</div>
            ) : null}
            {!c.enabled ? (
              <div className="text-xs text-zinc-600 dark:text-zinc-400">{t("credentials.switchedOff")}</div>
            ) : null}
          </div>
        );
      },
    },
    { id: "in_flight", header: t("credentials.inFlight"), accessorFn: (c) => states.get(c.id)?.in_flight ?? 0 },
    { id: "weight", header: t("credentials.weight"), accessorFn: (c) => c.weight },
    {
      id: "test",
      header: t("credentials.lastTest"),
      enableSorting: false,
      cell: ({ row }) => <TestCell result={results[row.original.id]} />,
    },
  ];
  if (canWrite || hasOAuth) {
    columns.push(
      actionsColumn(t("common.actions"), (c) => {
        const state = states.get(c.id)?.state ?? c.state;
        const oauth = c.oauth ? (
          <>
            <RowButton
              label={t("oauth.quotaButton")}
              target={c.name}
              onClick={() => setOAuthTarget({ kind: "quota", credential: c })}
            />
            {canWrite && c.oauth.refreshable ? (
              <RowButton
                label={refreshing === c.id ? t("oauth.refreshing") : t("oauth.refresh")}
                target={c.name}
                disabled={refreshing === c.id}
                onClick={() => runRefresh(c)}
              />
            ) : null}
            {canWrite && c.oauth.disabled_reason ? (
              <RowButton
                variant="primary"
                label={t("oauth.loginAgain")}
                target={c.name}
                onClick={() =>
                  setOAuthTarget({
                    kind: "login",
                    provider: c.provider,
                    providerKind: kindOf(c.provider),
                    credentialName: c.name,
                  })
                }
              />
            ) : null}
          </>
        ) : null;
        if (!canWrite) return oauth;
        return (
          <>
            {oauth}
            <RowButton
              label={testing === c.id ? t("credentials.testing") : t("credentials.test")}
              target={c.name}
              onClick={() => runTest(c)}
              disabled={testing === c.id}
            />
            {canReenable(state) ? (
              <RowButton
                label={t("credentials.reenable")}
                target={c.name}
                onClick={() =>
                  void toast.track(reenable.mutateAsync(c.id), t("credentials.reenabled", { name: c.name }))
                }
              />
            ) : null}
            <RowButton
              label={t("common.edit")}
              target={c.name}
              onClick={() => setEditing({ kind: "edit", credential: c })}
            />
            <RowButton variant="danger" label={t("common.delete")} target={c.name} onClick={() => setDeleting(c)} />
          </>
        );
      }),
    );
  }

  const providerNames = (providers.data ?? []).map((p) => p.name).sort();
  return (
    <Page
      title={t("nav.credentials")}
      description={t("credentials.description")}
      actions={
        // The provider's kind decides which (an OAuth kind logs accounts
        // in): none until it is known.
        !canWrite || !provider || !providers.data ? null : isOAuthKind(providerKind) ? (
          <>
            <Button onClick={() => setOAuthTarget({ kind: "import", provider, providerKind })}>
              {t("oauth.import.button")}
            </Button>
            <Button variant="primary" onClick={() => setOAuthTarget({ kind: "login", provider, providerKind })}>
              {t("oauth.login")}
            </Button>
          </>
        ) : (
          <>
            <Button onClick={() => setEditing({ kind: "import" })}>{t("credentials.importMany")}</Button>
            <Button variant="primary" onClick={() => setEditing({ kind: "add" })}>
              {t("credentials.add")}
            </Button>
          </>
        )
      }
    >
      <div className="max-w-xs">
        <label className="mb-1 block text-sm font-medium" htmlFor="credential-provider">
          {t("credentials.provider")}
        </label>
        <Select
          id="credential-provider"
          value={provider ?? ""}
          onChange={(e) => void navigate({ to: "/credentials", search: { provider: e.target.value || undefined } })}
        >
          <option value="">{t("credentials.allProviders")}</option>
          {providerNames.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </Select>
        {canWrite && !provider ? (
          <p className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">{t("credentials.pickToAdd")}</p>
        ) : null}
      </div>
      <Loaded query={credentials}>
        {(data) => (
          <DataTable
            label={t("nav.credentials")}
            data={data}
            columns={columns}
            rowId={(c) => String(c.id)}
            initialSort={[{ id: "name", desc: false }]}
          />
        )}
      </Loaded>
      {provider ? (
        <>
          <Dialog
            open={editing?.kind === "add"}
            onClose={() => setEditing(null)}
            title={t("credentials.addTo", { provider })}
          >
            <CredentialForm
              provider={provider}
              kind={providers.data?.find((p) => p.name === provider)?.kind ?? ""}
              onDone={(c) => {
                setEditing(null);
                toast.show(t("credentials.created", { name: c.name }));
              }}
            />
          </Dialog>
          <Dialog
            open={editing?.kind === "import"}
            onClose={() => setEditing(null)}
            title={t("credentials.importTo", { provider })}
            wide
          >
            <ImportForm provider={provider} onDone={() => setEditing(null)} />
          </Dialog>
        </>
      ) : null}
      <Dialog open={editing?.kind === "edit"} onClose={() => setEditing(null)} title={t("credentials.editTitle")}>
        {editing?.kind === "edit" ? (
          <CredentialForm
            provider={editing.credential.provider}
            kind={providers.data?.find((p) => p.name === editing.credential.provider)?.kind ?? ""}
            credential={editing.credential}
            onDone={(c) => {
              setEditing(null);
              toast.show(t("credentials.saved", { name: c.name }));
            }}
          />
        ) : null}
      </Dialog>
      <OAuthDialogs target={oauthTarget} onClose={() => setOAuthTarget(null)} />
      <DeleteDialog
        target={deleting}
        onClose={() => setDeleting(null)}
        title={t("credentials.deleteTitle")}
        message={(c) => t("credentials.deleteText", { name: c.name, provider: c.provider })}
        remove={(c) => remove.mutateAsync(c.id)}
        done={(c) => t("credentials.deleted", { name: c.name })}
      />
    </Page>
  );
}

function TestCell({ result }: { result: TestResult | string | undefined }) {
  const { t } = useTranslation();
  if (result === undefined) return <span className="text-zinc-500">—</span>;
  if (typeof result === "string") return <span className="text-xs text-red-800 dark:text-red-300">{result}</span>;
  return (
    <div className="text-xs">
      <Badge tone={result.ok ? "green" : "red"}>
        {result.ok ? t("credentials.testPassed") : t("credentials.testFailedShort", { status: result.status ?? "—" })}
      </Badge>{" "}
      <span>{t("credentials.latency", { ms: result.latency_ms })}</span>
      {result.ok && result.models !== null && result.models !== undefined ? (
        <span> · {t("credentials.models", { count: result.models })}</span>
      ) : null}
      {!result.ok ? <div className="mt-0.5 text-red-800 dark:text-red-300">{result.message}</div> : null}
    </div>
  );
}
