// Settings: the live limits, circuit breaker, request logging (body
// capture, redaction, retention), CORS, metrics and egress proxy, one card
// each.
// Admins change them; viewers read them.
import { useTranslation } from "react-i18next";
import { useSettings } from "../../api/settings";
import { useCanWrite } from "../../auth/session";
import { ErrorNote, Loading, Page } from "../../components/Page";
import { SECTIONS } from "./settingsSchema";
import { SettingsSection } from "./SettingsSection";

export function SettingsPage() {
  const { t } = useTranslation();
  const settings = useSettings();
  const canWrite = useCanWrite();
  return (
    <Page title={t("nav.settings")} description={t("settings.description")}>
      {settings.isPending ? <Loading /> : null}
      {settings.isError ? <ErrorNote error={settings.error} /> : null}
      {settings.data
        ? SECTIONS.map((s) => <SettingsSection key={s} section={s} settings={settings.data} canWrite={canWrite} />)
        : null}
    </Page>
  );
}
