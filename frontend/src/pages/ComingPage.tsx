// A routed slot for a page that comes in phase 2 of the console (issue 15):
// the navigation and the URL exist; the content does not yet.
import { useTranslation } from "react-i18next";
import { Card, Page } from "../components/Page";

export function ComingPage({ slot }: { slot: string }) {
  const { t } = useTranslation();
  return (
    <Page title={t(`nav.${slot}`)}>
      <Card>
        <p className="text-sm text-zinc-700 dark:text-zinc-300">{t("coming.text")}</p>
      </Card>
    </Page>
  );
}
