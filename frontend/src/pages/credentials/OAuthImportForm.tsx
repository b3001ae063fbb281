// Importing the vendor CLI's own credentials file (Codex auth.json, Claude
// Code .credentials.json or a setup token, Gemini CLI oauth_creds.json):
// pasted, or read from a picked file as text.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useImportLogin, type LoginDone } from "../../api/oauth";
import { Button } from "../../components/Button";
import { Field, Input, Textarea } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { LoginResult } from "./LoginResult";
import { importHintKey, placeError, saveBody, type FieldErrors } from "./oauthLogic";

export function OAuthImportForm({ provider, kind, onDone }: { provider: string; kind: string; onDone: () => void }) {
  const { t } = useTranslation();
  const run = useImportLogin(provider);
  const [content, setContent] = useState("");
  const [fileName, setFileName] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [weight, setWeight] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [result, setResult] = useState<LoginDone | null>(null);

  const onFile = async (files: FileList | null) => {
    const f = files?.[0];
    if (!f) return;
    setContent(await f.text());
    setFileName(f.name);
    setErrors((all) => ({ ...all, content: undefined }));
  };

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setFailure(null);
    const { body, errors: invalid } = saveBody({ name, weight });
    if (!content.trim()) invalid.content = "validation.required";
    setErrors(invalid);
    if (Object.keys(invalid).length) return;
    run.mutate(
      { content, ...body },
      {
        onSuccess: setResult,
        onError: (error) => {
          const placed = placeError(error);
          if (placed.on === "form") {
            setFailure(placed.upstream ? t("oauth.upstream", { message: placed.message }) : placed.message);
          } else if (placed.on === "state" || placed.on === "callback") {
            setFailure(placed.message);
          } else {
            setErrors({ [placed.on]: placed.message });
          }
        },
      },
    );
  };

  if (result) {
    return (
      <div className="space-y-4">
        <LoginResult result={result} />
        <div className="flex justify-end">
          <Button variant="primary" onClick={onDone}>
            {t("common.close")}
          </Button>
        </div>
      </div>
    );
  }

  return (
    <form onSubmit={submit} noValidate className="space-y-4" aria-label={t("oauth.import.title")}>
      <Field label={t("oauth.import.content")} hint={t(importHintKey(kind))} error={errors.content}>
        {(p) => (
          <Textarea
            {...p}
            rows={8}
            spellCheck={false}
            autoComplete="off"
            value={content}
            onChange={(e) => {
              setContent(e.target.value);
              setFileName(null);
              setErrors((all) => ({ ...all, content: undefined }));
            }}
          />
        )}
      </Field>
      <Field label={t("oauth.import.file")} hint={t("oauth.import.fileHint")}>
        {(p) => <Input {...p} type="file" onChange={(e) => void onFile(e.target.files)} />}
      </Field>
      {fileName ? (
        <p role="status" className="text-sm">
          {t("oauth.import.fileRead", { name: fileName })}
        </p>
      ) : null}
      <div className="grid gap-3 sm:grid-cols-[1fr_8rem]">
        <Field label={t("credentials.name")} error={errors.name} hint={t("oauth.nameHint")}>
          {(p) => (
            <Input
              {...p}
              value={name}
              onChange={(e) => {
                setName(e.target.value);
                setErrors((all) => ({ ...all, name: undefined }));
              }}
              autoComplete="off"
            />
          )}
        </Field>
        <Field label={t("credentials.weight")} error={errors.weight}>
          {(p) => (
            <Input
              {...p}
              type="number"
              min={1}
              step={1}
              placeholder="1"
              value={weight}
              onChange={(e) => {
                setWeight(e.target.value);
                setErrors((all) => ({ ...all, weight: undefined }));
              }}
            />
          )}
        </Field>
      </div>
      <FormError message={failure ?? undefined} />
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={run.isPending}>
          {t("oauth.import.run")}
        </Button>
      </div>
    </form>
  );
}
