// Copies a value to the clipboard and says so.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Button } from "./Button";

export function CopyButton({ value, label }: { value: string; label?: string }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  };
  return (
    <Button size="sm" onClick={copy} aria-live="polite">
      {copied ? t("common.copied") : (label ?? t("common.copy"))}
    </Button>
  );
}
