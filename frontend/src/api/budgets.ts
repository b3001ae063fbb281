// Budgets and where they stand (`GET /budgets`): per user and key, per
// period, the amount, the spend, what requests in flight reserved and
// when it resets. The budgets themselves are the `budgets` settings
// section (see settings.ts).
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type BudgetsView = Schemas["BudgetsView"];
export type BudgetLine = Schemas["LineView"];

export const budgetKeys = { all: ["budgets"] as const };

export function getBudgets(): Promise<BudgetsView> {
  return unwrap(api.GET("/admin/api/budgets"));
}

export function useBudgets() {
  return useQuery({ queryKey: budgetKeys.all, queryFn: getBudgets });
}
