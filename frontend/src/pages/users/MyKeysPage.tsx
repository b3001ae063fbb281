// Self-service: the caller's own keys (every role may manage their own).
import { useTranslation } from "react-i18next";
import { Page } from "../../components/Page";
import { KeysPanel } from "./KeysPanel";

export function MyKeysPage() {
  const { t } = useTranslation();
  return (
    <Page title={t("nav.myKeys")} description={t("keys.mineDescription")}>
      <KeysPanel owner="me" canWrite title={t("nav.myKeys")} />
    </Page>
  );
}
