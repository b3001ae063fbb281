// The model-route editor: the name clients ask for, ordered or weighted,
// and the targets (`provider/model`) in order, each with its weight when
// weighted. Targets move up and down; errors show next to the target or
// weight they concern, the API's own field errors too.
import { zodResolver } from "@hookform/resolvers/zod";
import { useFieldArray, useForm, type Path } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { useProviders } from "../../api/providers";
import { useSaveRoute, type ModelRoute } from "../../api/routes";
import { Button } from "../../components/Button";
import { Checkbox, Field, FieldError, Input, Select } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { applyServerError } from "../../lib/forms";
import { STRATEGIES, emptyValues, formField, routeSchema, toInput, valuesOf, type RouteValues } from "./routeSchema";

interface Props {
  route?: ModelRoute | undefined;
  onDone: (route: ModelRoute) => void;
}

export function RouteForm({ route, onDone }: Props) {
  const { t } = useTranslation();
  const mode = route ? "edit" : "create";
  const providers = useProviders();
  const names = providers.data ? providers.data.map((p) => p.name) : null;
  const save = useSaveRoute(route?.name ?? null);
  const form = useForm<RouteValues>({
    resolver: zodResolver(routeSchema(mode, names)),
    defaultValues: route ? valuesOf(route) : emptyValues(),
    mode: "onChange",
  });
  const targets = useFieldArray({ control: form.control, name: "targets" });
  const { errors, isSubmitting } = form.formState;
  // eslint-disable-next-line react-hooks/incompatible-library -- watch() is react-hook-form's live value
  const weighted = form.watch("strategy") === "weighted";

  const submit = form.handleSubmit(async (values) => {
    try {
      onDone(await save.mutateAsync(toInput(values, mode)));
    } catch (e) {
      const fields: Path<RouteValues>[] = ["name", "targets", "enabled"];
      values.targets.forEach((_, i) => fields.push(`targets.${i}.target`, `targets.${i}.weight`));
      applyServerError(e, form.setError, fields, formField);
    }
  });

  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      {mode === "create" ? (
        <Field label={t("routes.name")} error={errors.name?.message} hint={t("routes.nameHint")}>
          {(p) => <Input {...p} autoFocus autoComplete="off" {...form.register("name")} />}
        </Field>
      ) : null}
      <Field label={t("routes.strategy")} error={errors.strategy?.message} hint={t("routes.strategyHint")}>
        {(p) => (
          <Select {...p} {...form.register("strategy")}>
            {STRATEGIES.map((s) => (
              <option key={s} value={s}>
                {t(`routes.strategies.${s}`)}
              </option>
            ))}
          </Select>
        )}
      </Field>
      <fieldset className="space-y-2">
        <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">{t("routes.targets")}</legend>
        <p className="text-xs text-zinc-600 dark:text-zinc-400">
          {weighted ? t("routes.targetsHintWeighted") : t("routes.targetsHintOrdered")}
        </p>
        <datalist id="route-providers">
          {(names ?? []).map((n) => (
            <option key={n} value={`${n}/`} />
          ))}
        </datalist>
        <ol className="space-y-2">
          {targets.fields.map((field, i) => {
            const targetErr = errors.targets?.[i]?.target?.message;
            const weightErr = errors.targets?.[i]?.weight?.message;
            return (
              <li
                key={field.id}
                className={`grid items-start gap-2 ${weighted ? "grid-cols-[auto_1fr_6rem_auto]" : "grid-cols-[auto_1fr_auto]"}`}
              >
                <span className="pt-2 text-sm text-zinc-600 tabular-nums dark:text-zinc-400">{i + 1}.</span>
                <div>
                  <label className="sr-only" htmlFor={`target-${field.id}`}>
                    {t("routes.target", { n: i + 1 })}
                  </label>
                  <Input
                    id={`target-${field.id}`}
                    list="route-providers"
                    placeholder="provider/model"
                    autoComplete="off"
                    aria-invalid={Boolean(targetErr)}
                    aria-describedby={targetErr ? `target-${field.id}-error` : undefined}
                    {...form.register(`targets.${i}.target`)}
                  />
                  <FieldError id={`target-${field.id}-error`} message={targetErr} />
                </div>
                {weighted ? (
                  <div>
                    <label className="sr-only" htmlFor={`weight-${field.id}`}>
                      {t("routes.weight", { n: i + 1 })}
                    </label>
                    <Input
                      id={`weight-${field.id}`}
                      inputMode="numeric"
                      placeholder={t("routes.weightPlaceholder")}
                      aria-invalid={Boolean(weightErr)}
                      aria-describedby={weightErr ? `weight-${field.id}-error` : undefined}
                      {...form.register(`targets.${i}.weight`)}
                    />
                    <FieldError id={`weight-${field.id}-error`} message={weightErr} />
                  </div>
                ) : null}
                <div className="flex gap-1">
                  <Button
                    size="sm"
                    variant="ghost"
                    disabled={i === 0}
                    onClick={() => targets.move(i, i - 1)}
                    aria-label={t("routes.moveUp", { n: i + 1 })}
                  >
                    ↑
                  </Button>
                  <Button
                    size="sm"
                    variant="ghost"
                    disabled={i === targets.fields.length - 1}
                    onClick={() => targets.move(i, i + 1)}
                    aria-label={t("routes.moveDown", { n: i + 1 })}
                  >
                    ↓
                  </Button>
                  <Button
                    size="sm"
                    variant="ghost"
                    onClick={() => targets.remove(i)}
                    aria-label={t("routes.removeTarget", { n: i + 1 })}
                  >
                    ✕
                  </Button>
                </div>
              </li>
            );
          })}
        </ol>
        <FieldError id="targets-error" message={errors.targets?.message ?? errors.targets?.root?.message} />
        <Button size="sm" onClick={() => targets.append({ target: "", weight: "1" })}>
          {t("routes.addTarget")}
        </Button>
      </fieldset>
      <Checkbox label={t("routes.enabledLabel")} {...form.register("enabled")} />
      <FormError message={errors.root?.server?.message} />
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={isSubmitting}>
          {mode === "create" ? t("routes.create") : t("common.save")}
        </Button>
      </div>
    </form>
  );
}
