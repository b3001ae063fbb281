// The playground against a fake gateway: the key, the model list and a
// streamed answer with tokens and the serving provider.
import "../../test/fetchMock";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { calls, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { PlaygroundPage } from "./PlaygroundPage";

beforeEach(() => {
  resetApi();
  sessionStorage.clear();
  mockApi("GET", "/v1/models", () => ({ object: "list", data: [{ id: "smart" }, { id: "openai/gpt-4o" }] }));
  mockApi(
    "POST",
    "/v1/chat/completions",
    () =>
      new Response(
        [
          'data: {"choices":[{"delta":{"content":"Hel"}}]}',
          'data: {"choices":[{"delta":{"content":"lo!"}}]}',
          'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}',
          "data: [DONE]",
          "",
        ].join("\n\n"),
        {
          headers: {
            "content-type": "text/event-stream",
            "x-gproxy-provider": "openai",
            "x-gproxy-model": "gpt-4o",
            "x-request-id": "req-1",
          },
        },
      ),
  );
});

describe("PlaygroundPage", () => {
  it("refuses a too-short key next to its field", async () => {
    const user = userEvent.setup();
    await renderAs("user", <PlaygroundPage />);
    await user.type(screen.getByLabelText("Proxy key (gpk-…)"), "short");
    await user.click(screen.getByRole("button", { name: "Use key" }));
    expect(await screen.findByText("A key has at least 8 characters.")).toBeInTheDocument();
    expect(calls.some((c) => c.path === "/v1/models")).toBe(false);
  });

  it("lists models with the key and streams an answer with its figures", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    await renderAs("user", <PlaygroundPage />);
    await user.type(screen.getByLabelText("Proxy key (gpk-…)"), "gpk-secret-1");
    await user.click(screen.getByRole("button", { name: "Use key" }));
    const model = await screen.findByLabelText("Model");
    expect(model).toHaveValue("smart");
    expect(calls.find((c) => c.path === "/v1/models")?.headers.get("authorization")).toBe("Bearer gpk-secret-1");
    await user.selectOptions(model, "openai/gpt-4o");
    await user.click(screen.getByRole("button", { name: "Send" }));
    expect(await screen.findByText("Required.")).toBeInTheDocument();
    await user.type(screen.getByLabelText("Message"), "Say hello");
    await user.click(screen.getByRole("button", { name: "Send" }));
    expect(await screen.findByText("Hello!")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText("openai / gpt-4o")).toBeInTheDocument());
    expect(screen.getByText("7 / 2")).toBeInTheDocument();
    expect(screen.getByText("req-1")).toBeInTheDocument();
    expect(calls.find((c) => c.path === "/v1/chat/completions")?.body).toMatchObject({
      model: "openai/gpt-4o",
      messages: [{ role: "user", content: "Say hello" }],
    });
  });
});
