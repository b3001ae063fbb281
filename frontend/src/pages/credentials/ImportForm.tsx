// Batch import: paste many API keys (one per line) or load a JSON file of
// credentials; the answer lists what was created and what was skipped, and
// why.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useImportCredentials, type ImportResult } from "../../api/credentials";
import { errorMessage } from "../../api/errors";
import { Button } from "../../components/Button";
import { Field, Input, Textarea } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { fromJson, fromText, type Parsed } from "./importParse";

export function ImportForm({ provider, onDone }: { provider: string; onDone: () => void }) {
  const { t } = useTranslation();
  const run = useImportCredentials(provider);
  const [text, setText] = useState("");
  const [file, setFile] = useState<{ name: string; parsed: Parsed } | null>(null);
  const [problem, setProblem] = useState<{ key: string; values?: Record<string, string> } | null>(null);
  const [result, setResult] = useState<ImportResult | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const onFile = async (files: FileList | null) => {
    const f = files?.[0];
    if (!f) return setFile(null);
    const parsed = fromJson(await f.text());
    setFile({ name: f.name, parsed });
    setProblem(parsed.ok ? null : { key: parsed.error, ...(parsed.values ? { values: parsed.values } : {}) });
  };

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setFailure(null);
    const parsed = file ? file.parsed : fromText(text);
    if (!parsed.ok) {
      setProblem({ key: parsed.error, ...(parsed.values ? { values: parsed.values } : {}) });
      return;
    }
    setProblem(null);
    run.mutate(parsed.input, { onSuccess: setResult, onError: (err) => setFailure(errorMessage(err)) });
  };

  if (result) {
    return (
      <div className="space-y-3 text-sm">
        <p role="status">
          {t("credentials.import.done", { created: result.created.length, skipped: result.skipped.length })}
        </p>
        {result.skipped.length > 0 ? (
          <ul className="list-disc space-y-1 pl-5">
            {result.skipped.map((s) => (
              <li key={s.at}>
                <span className="font-mono">{s.at}</span>: {s.reason}
              </li>
            ))}
          </ul>
        ) : null}
        <div className="flex justify-end">
          <Button variant="primary" onClick={onDone}>
            {t("common.close")}
          </Button>
        </div>
      </div>
    );
  }

  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <Field
        label={t("credentials.import.paste")}
        hint={t("credentials.import.pasteHint")}
        error={!file ? problem?.key : undefined}
        errorValues={problem?.values}
      >
        {(p) => (
          <Textarea {...p} rows={8} value={text} onChange={(e) => setText(e.target.value)} disabled={file !== null} />
        )}
      </Field>
      <Field
        label={t("credentials.import.file")}
        hint={t("credentials.import.fileHint")}
        error={file ? problem?.key : undefined}
        errorValues={problem?.values}
      >
        {(p) => (
          <Input {...p} type="file" accept="application/json,.json" onChange={(e) => void onFile(e.target.files)} />
        )}
      </Field>
      {file?.parsed.ok ? (
        <p className="text-sm">{t("credentials.import.fileReady", { name: file.name, count: file.parsed.count })}</p>
      ) : null}
      <FormError message={failure ?? undefined} />
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={run.isPending}>
          {t("credentials.import.run")}
        </Button>
      </div>
    </form>
  );
}
