import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ConfirmDialog, DeleteDialog } from "./Dialog";
import { ToastProvider } from "./Toast";

describe("ConfirmDialog", () => {
  it("asks, focuses the safe choice, and confirms only on request", async () => {
    const user = userEvent.setup();
    const onConfirm = vi.fn();
    const onCancel = vi.fn();
    render(
      <ConfirmDialog
        open
        title="Delete this key?"
        message="It stops working at once."
        confirmLabel="Delete"
        onConfirm={onConfirm}
        onCancel={onCancel}
      />,
    );
    const dialog = screen.getByRole("dialog", { name: "Delete this key?" });
    expect(dialog).toHaveTextContent("It stops working at once.");
    expect(screen.getByRole("button", { name: "Cancel" })).toHaveFocus();
    await user.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onCancel).toHaveBeenCalledTimes(1);
    expect(onConfirm).not.toHaveBeenCalled();
    await user.click(screen.getByRole("button", { name: "Delete" }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });

  it("renders nothing inside while closed", () => {
    render(
      <ConfirmDialog
        open={false}
        title="T"
        message="M"
        confirmLabel="Delete"
        onConfirm={() => {}}
        onCancel={() => {}}
      />,
    );
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
  });
});

describe("DeleteDialog", () => {
  function setup(remove: (name: string) => Promise<unknown>) {
    const onClose = vi.fn();
    const onDeleted = vi.fn();
    render(
      <ToastProvider>
        <DeleteDialog
          target="primary"
          onClose={onClose}
          onDeleted={onDeleted}
          title="Delete this credential?"
          message={(name) => `${name} will be removed.`}
          remove={remove}
          done={(name) => `Credential ${name} deleted.`}
        />
      </ToastProvider>,
    );
    return { onClose, onDeleted };
  }

  it("deletes, says so and closes", async () => {
    const remove = vi.fn(async () => undefined);
    const { onClose, onDeleted } = setup(remove);
    expect(screen.getByRole("dialog")).toHaveTextContent("primary will be removed.");
    await userEvent.setup().click(screen.getByRole("button", { name: "Delete" }));
    expect(remove).toHaveBeenCalledWith("primary");
    expect(await screen.findByText("Credential primary deleted.")).toBeInTheDocument();
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(onDeleted).toHaveBeenCalledWith("primary");
  });

  it("stays open and shows why when the delete fails", async () => {
    const { onClose, onDeleted } = setup(async () => {
      throw new Error("the provider is built in");
    });
    await userEvent.setup().click(screen.getByRole("button", { name: "Delete" }));
    expect(await screen.findByText("the provider is built in")).toBeInTheDocument();
    expect(onClose).not.toHaveBeenCalled();
    expect(onDeleted).not.toHaveBeenCalled();
  });
});
