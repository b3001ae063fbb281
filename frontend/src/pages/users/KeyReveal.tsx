// The one-time reveal: the only moment the key itself exists outside the
// client that will use it. Copy button, and a warning that it will not be
// shown again.
import { useTranslation } from "react-i18next";
import type { KeyCreated } from "../../api/users";
import { Button } from "../../components/Button";
import { CopyButton } from "../../components/CopyButton";

export function KeyReveal({ created, onDone }: { created: KeyCreated; onDone: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="space-y-4">
      <p
        role="alert"
        className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100"
      >
        {t("keys.revealWarning")}
      </p>
      <div>
        <label htmlFor="new-key" className="mb-1 block text-sm font-medium">
          {t("keys.theKey")}
        </label>
        <div className="flex items-center gap-2">
          <input
            id="new-key"
            readOnly
            value={created.key}
            onFocus={(e) => e.target.select()}
            className="block w-full rounded-md border border-zinc-300 bg-zinc-50 px-3 py-2 font-mono text-sm dark:border-zinc-600 dark:bg-zinc-950"
          />
          <CopyButton value={created.key} />
        </div>
      </div>
      <div className="flex justify-end">
        <Button variant="primary" onClick={onDone}>
          {t("keys.revealDone")}
        </Button>
      </div>
    </div>
  );
}
