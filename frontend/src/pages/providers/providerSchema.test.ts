import { describe, expect, it } from "vitest";
import type { Provider } from "../../api/providers";
import { emptyValues, providerSchema, toInput, toPatch, valuesOf } from "./providerSchema";

const custom: Provider = {
  id: 9,
  name: "mine",
  kind: "custom",
  builtin: false,
  base_url: "https://llm.example.com/v1",
  effective_base_url: "https://llm.example.com/v1",
  enabled: true,
  credential_strategy: "weighted",
  settings: {
    protocol: "claude",
    auth: "x-api-key",
    headers: { "x-team": "a" },
    models: ["m-1", "m-2"],
    json_param_mask: ["metadata"],
  },
  credentials: 2,
  loaded: true,
};

function issues(values: ReturnType<typeof emptyValues>, mode: "create" | "edit" = "create", kind = "custom") {
  const r = providerSchema(mode, kind).safeParse(values);
  return r.success ? {} : Object.fromEntries(r.error.issues.map((i) => [i.path.join("."), i.message]));
}

describe("the provider editor", () => {
  it("round-trips a custom provider's settings", () => {
    const v = valuesOf(custom);
    expect(v).toMatchObject({ protocol: "claude", auth: "x-api-key", models: "m-1\nm-2", json_param_mask: "metadata" });
    expect(toPatch(v, "custom")).toEqual({
      base_url: "https://llm.example.com/v1",
      enabled: true,
      credential_strategy: "weighted",
      headers: { "x-team": "a" },
      models: ["m-1", "m-2"],
      json_param_mask: ["metadata"],
      protocol: "claude",
      count_tokens: "upstream",
      auth: "x-api-key",
    });
  });

  it("sends built-ins only their overrides, a blank URL as the default", () => {
    const patch = toPatch({ ...valuesOf({ ...custom, kind: "openai", settings: {} }), base_url: " " }, "openai");
    expect(patch.base_url).toBeNull();
    expect(patch).not.toHaveProperty("protocol");
    expect(patch).not.toHaveProperty("auth");
  });

  it("creates a custom provider from the form", () => {
    const v = { ...emptyValues(), name: "edge", base_url: "http://10.0.0.1:8000/v1 ", models: " a \n\n b " };
    expect(toInput(v)).toMatchObject({
      name: "edge",
      kind: "custom",
      base_url: "http://10.0.0.1:8000/v1",
      models: ["a", "b"],
    });
    expect(toInput(v)).not.toHaveProperty("auth");
  });

  it("puts each problem on its field", () => {
    expect(issues({ ...emptyValues(), name: "edge", base_url: "https://x.com" })).toEqual({});
    expect(
      issues({
        ...emptyValues(),
        name: "v1",
        base_url: "",
        headers: [
          { name: "x-a", value: "1" },
          { name: "X-A", value: "2" },
          { name: "cookie", value: "3" },
        ],
        json_param_mask: "ok\nbad.",
      }),
    ).toEqual({
      name: "validation.nameReserved",
      base_url: "validation.required",
      "headers.1.name": "validation.headerTwice",
      "headers.2.name": "validation.headerForbidden",
      json_param_mask: "validation.mask.invalid",
    });
    // Editing a built-in: no name, and a blank URL is allowed.
    expect(issues({ ...emptyValues(), name: "", base_url: "" }, "edit", "openai")).toEqual({});
  });
});
