// The route editor's checks and its conversion to the API body.
import { describe, expect, it } from "vitest";
import {
  emptyValues,
  formField,
  routeNameError,
  routeSchema,
  targetError,
  toInput,
  valuesOf,
  weightError,
  type RouteValues,
} from "./routeSchema";

const PROVIDERS = ["openai", "claude"];

function issues(values: RouteValues, mode: "create" | "edit" = "create") {
  const r = routeSchema(mode, PROVIDERS).safeParse(values);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("route checks", () => {
  it("takes names like the gateway", () => {
    expect(routeNameError("smart")).toBeNull();
    expect(routeNameError("gpt-4o:latest")).toBeNull();
    expect(routeNameError("")).toBe("routes.errors.nameLength");
    expect(routeNameError("x".repeat(129))).toBe("routes.errors.nameLength");
    expect(routeNameError("has space")).toBe("routes.errors.nameAscii");
    expect(routeNameError("模型")).toBe("routes.errors.nameAscii");
    expect(routeNameError("a/b")).toBe("routes.errors.nameSlash");
  });

  it("takes provider/model targets with a known provider", () => {
    expect(targetError("openai/gpt-4o", PROVIDERS)).toBeNull();
    expect(targetError("openai/meta/llama-3", PROVIDERS)).toBeNull();
    expect(targetError("gpt-4o", PROVIDERS)).toBe("routes.errors.targetShape");
    expect(targetError("/gpt-4o", PROVIDERS)).toBe("routes.errors.targetShape");
    expect(targetError("openai/", PROVIDERS)).toBe("routes.errors.targetShape");
    expect(targetError("OpenAI/gpt", PROVIDERS)).toBe("routes.errors.targetProvider");
    expect(targetError("mistral/large", PROVIDERS)).toBe("routes.errors.targetUnknown");
    expect(targetError("mistral/large", null)).toBeNull();
  });

  it("takes whole weights of at least 1", () => {
    expect(weightError("1")).toBeNull();
    expect(weightError(" 30 ")).toBeNull();
    for (const w of ["0", "", "1.5", "-2", "abc", "4294967296"]) expect(weightError(w)).toBe("validation.weight");
  });

  it("puts each problem on its field", () => {
    expect(issues(emptyValues())).toEqual([
      "name: routes.errors.nameLength",
      "targets.0.target: routes.errors.targetShape",
    ]);
    expect(issues({ name: "smart", strategy: "ordered", enabled: true, targets: [] })).toEqual([
      "targets: routes.errors.noTargets",
    ]);
    expect(
      issues({
        name: "smart",
        strategy: "weighted",
        enabled: true,
        targets: [
          { target: "openai/gpt-4o", weight: "3" },
          { target: "claude/sonnet", weight: "0" },
        ],
      }),
    ).toEqual(["targets.1.weight: validation.weight"]);
  });

  it("ignores weights on ordered routes and the name when editing", () => {
    const v: RouteValues = {
      name: "",
      strategy: "ordered",
      enabled: true,
      targets: [{ target: "openai/x", weight: "" }],
    };
    expect(issues(v, "edit")).toEqual([]);
  });
});

describe("route bodies", () => {
  it("sends plain strings for ordered routes", () => {
    const v: RouteValues = {
      name: "smart",
      strategy: "ordered",
      enabled: false,
      targets: [
        { target: " claude/sonnet ", weight: "5" },
        { target: "openai/gpt-4o", weight: "1" },
      ],
    };
    expect(toInput(v, "create")).toEqual({
      name: "smart",
      enabled: false,
      targets: ["claude/sonnet", "openai/gpt-4o"],
    });
    expect(toInput(v, "edit")).toEqual({ enabled: false, targets: ["claude/sonnet", "openai/gpt-4o"] });
  });

  it("sends weights for weighted routes", () => {
    const v: RouteValues = {
      name: "mix",
      strategy: "weighted",
      enabled: true,
      targets: [
        { target: "claude/sonnet", weight: "3" },
        { target: "openai/gpt-4o", weight: "1" },
      ],
    };
    expect(toInput(v, "create").targets).toEqual([
      { target: "claude/sonnet", weight: 3 },
      { target: "openai/gpt-4o", weight: 1 },
    ]);
  });

  it("reads a stored route back into the form", () => {
    const v = valuesOf({
      id: 1,
      name: "mix",
      strategy: "weighted",
      enabled: true,
      targets: [{ provider: "openrouter", model: "meta/llama-3", weight: 2 }],
    });
    expect(v).toEqual({
      name: "mix",
      strategy: "weighted",
      enabled: true,
      targets: [{ target: "openrouter/meta/llama-3", weight: "2" }],
    });
  });

  it("maps API field paths to form fields", () => {
    expect(formField("targets[2]")).toBe("targets.2.target");
    expect(formField("targets[0].target")).toBe("targets.0.target");
    expect(formField("targets[1].weight")).toBe("targets.1.weight");
    expect(formField("targets")).toBe("targets");
    expect(formField("name")).toBe("name");
  });
});
