// Limits & budgets: where every USD budget stands, and the editors of the
// `budgets` and `rate_limits` settings sections (each saved whole, live
// on every instance). Admins change them; viewers read them.
import { useTranslation } from "react-i18next";
import { useSettings } from "../../api/settings";
import { useCanWrite } from "../../auth/session";
import { Loaded, Page } from "../../components/Page";
import { BudgetStandings } from "./BudgetStandings";
import { BudgetsForm } from "./BudgetsForm";
import { RateLimitsForm } from "./RateLimitsForm";

export function LimitsPage() {
  const { t } = useTranslation();
  const settings = useSettings();
  const canWrite = useCanWrite();
  return (
    <Page title={t("nav.limits")} description={t("limitsPage.description")}>
      <BudgetStandings />
      <Loaded query={settings}>
        {(s) => (
          <>
            <BudgetsForm settings={s} canWrite={canWrite} />
            <RateLimitsForm settings={s} canWrite={canWrite} />
          </>
        )}
      </Loaded>
    </Page>
  );
}
