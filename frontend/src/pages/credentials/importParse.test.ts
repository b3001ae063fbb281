import { describe, expect, it } from "vitest";
import { fromJson, fromText } from "./importParse";

describe("batch import input", () => {
  it("pastes keys as text, counting what will be imported", () => {
    expect(fromText("# team\nsk-1\n\nsk-2\n")).toEqual({
      ok: true,
      input: { keys: "# team\nsk-1\n\nsk-2\n" },
      count: 2,
    });
    expect(fromText("# nothing\n\n")).toMatchObject({ ok: false, error: "credentials.import.nothing" });
  });

  it("reads a JSON array or {items}, and names a bad entry", () => {
    expect(fromJson('[{"api_key": "sk-1", "weight": 2}]')).toMatchObject({ ok: true, count: 1 });
    expect(fromJson('{"items": [{"api_key": "sk-1"}, {"api_key": "sk-2"}]}')).toMatchObject({ ok: true, count: 2 });
    expect(fromJson("{")).toMatchObject({ ok: false, error: "credentials.import.badJson" });
    expect(fromJson('{"keys": 1}')).toMatchObject({ ok: false, error: "credentials.import.notArray" });
    expect(fromJson("[]")).toMatchObject({ ok: false, error: "credentials.import.nothing" });
    expect(fromJson('[{"api_key": "a"}, 3]')).toMatchObject({ values: { at: "items[1]" } });
    expect(fromJson('[{"apikey": "a"}]')).toMatchObject({
      error: "credentials.import.unknownField",
      values: { at: "items[0].apikey" },
    });
  });
});
