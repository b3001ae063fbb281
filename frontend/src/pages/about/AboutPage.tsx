// About: which gproxy this is (the server's version from /health, the
// admin API's and this console's), the instance's shared state and config
// sync (for the roles that may read the full health report), and where the
// documentation lives.
import { useTranslation } from "react-i18next";
import { name as consoleName, version as consoleVersion } from "../../../package.json";
import { useHealth } from "../../api/health";
import { useSeesAll } from "../../auth/session";
import { Badge } from "../../components/Badge";
import { Card, ErrorNote, Loading, Page } from "../../components/Page";
import { formatTime } from "../../lib/format";

/** The repository's documents, what each covers (i18n keys under `about.docs.`). */
export const DOCS = [
  { file: "README.md", key: "readme" },
  { file: "docs/configuration.md", key: "configuration" },
  { file: "docs/admin.md", key: "admin" },
  { file: "route.md", key: "route" },
  { file: "provider.md", key: "provider" },
  { file: "docs/resilience.md", key: "resilience" },
  { file: "docs/security.md", key: "security" },
  { file: "docs/architecture.md", key: "architecture" },
  { file: "docs/benchmarks.md", key: "benchmarks" },
] as const;

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="grid grid-cols-[10rem_1fr] gap-2 py-1.5 text-sm">
      <dt className="text-zinc-600 dark:text-zinc-400">{label}</dt>
      <dd className="break-all text-zinc-900 dark:text-zinc-100">{children}</dd>
    </div>
  );
}

export function AboutPage() {
  const { t, i18n } = useTranslation();
  const health = useHealth(useSeesAll());
  const h = health.data;
  return (
    <Page title={t("nav.about")} description={t("about.description")}>
      <Card title={t("about.versions")}>
        {health.isPending ? <Loading /> : null}
        {health.isError ? <ErrorNote error={health.error} /> : null}
        <dl className="divide-y divide-zinc-200 dark:divide-zinc-800">
          {h ? (
            <>
              <Row label={t("about.server")}>gproxy {h.version}</Row>
              <Row label={t("about.status")}>
                <Badge tone={h.status === "ok" ? "green" : "red"}>{h.status}</Badge>
              </Row>
            </>
          ) : null}
          <Row label={t("about.console")}>
            {consoleName} {consoleVersion}
          </Row>
          {h?.shared_state ? (
            <Row label={t("about.sharedState")}>
              {h.shared_state.backend} · {h.shared_state.status}
              {h.shared_state.error ? ` (${h.shared_state.error})` : ""}
            </Row>
          ) : null}
          {h?.config_sync ? (
            <Row label={t("about.configSync")}>
              {t("about.syncLine", {
                mode: h.config_sync.mode,
                instance: h.config_sync.instance,
                reloads: h.config_sync.reloads,
                at: formatTime(h.config_sync.last_reload_at, i18n.language),
              })}
            </Row>
          ) : null}
        </dl>
      </Card>
      <Card title={t("about.documentation")}>
        <p className="mb-3 text-sm text-zinc-700 dark:text-zinc-300">{t("about.docsIntro")}</p>
        <ul className="space-y-1.5 text-sm">
          <li>
            <a
              href="/admin/api/openapi.json"
              className="font-mono text-indigo-700 underline-offset-2 hover:underline dark:text-indigo-300"
            >
              /admin/api/openapi.json
            </a>{" "}
            — {t("about.openapi")}
          </li>
          {DOCS.map((d) => (
            <li key={d.file}>
              <code className="font-mono">{d.file}</code> — {t(`about.docs.${d.key}`)}
            </li>
          ))}
        </ul>
      </Card>
    </Page>
  );
}
