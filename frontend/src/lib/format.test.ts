import { describe, expect, it } from "vitest";
import { formatUsd, sumUsd } from "./format";

describe("USD amounts", () => {
  it("shows the API's decimal as is, and unknown as a dash", () => {
    expect(formatUsd("0.000732")).toBe("$0.000732");
    expect(formatUsd(null)).toBe("—");
    expect(formatUsd(undefined)).toBe("—");
  });

  it("sums decimal strings exactly", () => {
    expect(sumUsd(["0.00009375", "0.000732", "12"])).toBe("12.00082575");
    expect(sumUsd(["1.5", "-0.5"])).toBe("1");
    expect(sumUsd([])).toBe("0");
  });
});
