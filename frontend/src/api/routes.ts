// Model routes: a client-facing model name resolved to provider/model
// targets, tried in order or picked by weight. A write replaces the
// targets whole (`PUT /routes/{name}`); renaming is delete + create.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type ModelRoute = Schemas["RouteView"];
export type RouteInput = Schemas["RouteInput"];

export const routeKeys = { all: ["routes"] as const };

export function listRoutes(): Promise<ModelRoute[]> {
  return unwrap(api.GET("/admin/api/routes"));
}

export function createRoute(body: RouteInput): Promise<ModelRoute> {
  return unwrap(api.POST("/admin/api/routes", { body }));
}

export function replaceRoute(name: string, body: RouteInput): Promise<ModelRoute> {
  return unwrap(api.PUT("/admin/api/routes/{name}", { params: { path: { name } }, body }));
}

export async function deleteRoute(name: string): Promise<void> {
  await unwrap(api.DELETE("/admin/api/routes/{name}", { params: { path: { name } } }));
}

export function useRoutes() {
  return useQuery({ queryKey: routeKeys.all, queryFn: listRoutes });
}

function useInvalidateRoutes() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: routeKeys.all });
}

/** Creates a route, or (with `existing`) replaces that route's targets. */
export function useSaveRoute(existing: string | null) {
  const invalidate = useInvalidateRoutes();
  return useMutation({
    mutationFn: (body: RouteInput) => (existing === null ? createRoute(body) : replaceRoute(existing, body)),
    onSuccess: invalidate,
  });
}

export function useDeleteRoute() {
  const invalidate = useInvalidateRoutes();
  return useMutation({ mutationFn: deleteRoute, onSuccess: invalidate });
}
