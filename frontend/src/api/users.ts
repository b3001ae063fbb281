// Users and their keys; `/me` for the caller's own keys (every role).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type User = Schemas["UserView"];
export type UserInput = Schemas["UserInput"];
export type UserPatch = Schemas["UserPatchInput"];
export type Key = Schemas["KeyView"];
export type KeyInput = Schemas["KeyInput"];
export type KeyPatch = Schemas["KeyPatchInput"];
export type KeyCreated = Schemas["KeyCreated"];

/** Whose keys: a user id, or `me` (the caller, through `/me/keys`). */
export type KeyOwner = number | "me";

export const userKeys = {
  all: ["users"] as const,
  one: (id: number) => ["users", id] as const,
  keys: (owner: KeyOwner) => ["keys", owner] as const,
};

export function useUsers() {
  return useQuery({ queryKey: userKeys.all, queryFn: () => unwrap(api.GET("/admin/api/users")) });
}

export function useUser(id: number) {
  return useQuery({
    queryKey: userKeys.one(id),
    queryFn: () => unwrap(api.GET("/admin/api/users/{id}", { params: { path: { id } } })),
  });
}

function useInvalidateUsers() {
  const client = useQueryClient();
  return async () => {
    await client.invalidateQueries({ queryKey: userKeys.all });
    await client.invalidateQueries({ queryKey: ["keys"] });
  };
}

export function useCreateUser() {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: (body: UserInput) => unwrap(api.POST("/admin/api/users", { body })),
    onSuccess: invalidate,
  });
}

export function useUpdateUser() {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: ({ id, patch }: { id: number; patch: UserPatch }) =>
      unwrap(api.PATCH("/admin/api/users/{id}", { params: { path: { id } }, body: patch })),
    onSuccess: invalidate,
  });
}

export function useDeleteUser() {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE("/admin/api/users/{id}", { params: { path: { id } } })),
    onSuccess: invalidate,
  });
}

export function useKeys(owner: KeyOwner) {
  return useQuery({
    queryKey: userKeys.keys(owner),
    queryFn: () =>
      owner === "me"
        ? unwrap(api.GET("/admin/api/me/keys"))
        : unwrap(api.GET("/admin/api/users/{id}/keys", { params: { path: { id: owner } } })),
  });
}

export function useCreateKey(owner: KeyOwner) {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: (body: KeyInput) =>
      owner === "me"
        ? unwrap(api.POST("/admin/api/me/keys", { body }))
        : unwrap(api.POST("/admin/api/users/{id}/keys", { params: { path: { id: owner } }, body })),
    onSuccess: invalidate,
  });
}

export function useUpdateKey(owner: KeyOwner) {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: ({ id, patch }: { id: number; patch: KeyPatch }) =>
      owner === "me"
        ? unwrap(api.PATCH("/admin/api/me/keys/{id}", { params: { path: { id } }, body: patch }))
        : unwrap(api.PATCH("/admin/api/keys/{id}", { params: { path: { id } }, body: patch })),
    onSuccess: invalidate,
  });
}

export function useDeleteKey(owner: KeyOwner) {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: (id: number) =>
      owner === "me"
        ? unwrap(api.DELETE("/admin/api/me/keys/{id}", { params: { path: { id } } }))
        : unwrap(api.DELETE("/admin/api/keys/{id}", { params: { path: { id } } })),
    onSuccess: invalidate,
  });
}
