import type { ColumnDef } from "@tanstack/react-table";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { DataTable } from "./DataTable";

interface Row {
  name: string;
  weight: number;
}

const rows: Row[] = Array.from({ length: 25 }, (_, i) => ({
  name: `cred-${String(i).padStart(2, "0")}`,
  weight: i % 3,
}));
const columns: ColumnDef<Row>[] = [
  { id: "name", header: "Name", accessorFn: (r) => r.name },
  { id: "weight", header: "Weight", accessorFn: (r) => r.weight },
];

function names() {
  const table = screen.getByRole("table", { name: "Credentials" });
  return within(table)
    .getAllByRole("row")
    .slice(1)
    .map((r) => within(r).getAllByRole("cell")[0]?.textContent);
}

describe("DataTable", () => {
  it("pages, filters and sorts", async () => {
    const user = userEvent.setup();
    render(<DataTable label="Credentials" data={rows} columns={columns} rowId={(r) => r.name} pageSize={10} />);
    expect(names()).toHaveLength(10);
    expect(screen.getByText("Page 1 of 3")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(names()[0]).toBe("cred-10");

    await user.type(screen.getByRole("searchbox", { name: "Filter…" }), "cred-2");
    expect(names()).toEqual(["cred-20", "cred-21", "cred-22", "cred-23", "cred-24"]);
    expect(screen.getByText("Page 1 of 1")).toBeInTheDocument();
    expect(screen.getByText("5 rows")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: /Name/ }));
    expect(screen.getByRole("columnheader", { name: /Name/ })).toHaveAttribute("aria-sort", "ascending");
    await user.click(screen.getByRole("button", { name: /Name/ }));
    expect(screen.getByRole("columnheader", { name: /Name/ })).toHaveAttribute("aria-sort", "descending");
    expect(names()[0]).toBe("cred-24");

    await user.clear(screen.getByRole("searchbox", { name: "Filter…" }));
    await user.type(screen.getByRole("searchbox", { name: "Filter…" }), "nothing like it");
    expect(screen.getByText("No row matches the filter.")).toBeInTheDocument();
  });
});
