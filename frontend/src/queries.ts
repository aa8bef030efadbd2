/** Query options for every server read, so keys and calls live in one place. */
import { keepPreviousData, queryOptions } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./api/client";
import type { paths } from "./api/schema";

/** The IANA zones the API accepts (declared in its OpenAPI document). */
export type TimeZone = NonNullable<
  NonNullable<paths["/analytics/dashboard"]["get"]["parameters"]["query"]>["tz"]
>;

export interface Range {
  start?: string;
  end?: string;
  tz?: TimeZone;
}

export type TicketFilters = NonNullable<paths["/tickets/"]["get"]["parameters"]["query"]>;

export const meQuery = () =>
  queryOptions({
    queryKey: ["me"],
    queryFn: () => unwrap(api.GET("/auth/me")),
    staleTime: 5 * 60_000,
  });

export const dashboardQuery = (range: Range) =>
  queryOptions({
    queryKey: ["dashboard", range],
    queryFn: () => unwrap(api.GET("/analytics/dashboard", { params: { query: range } })),
    placeholderData: keepPreviousData,
  });

export const trendsQuery = (range: Range, interval: "day" | "week") =>
  queryOptions({
    queryKey: ["trends", range, interval],
    queryFn: () =>
      unwrap(api.GET("/analytics/trends", { params: { query: { ...range, interval } } })),
    placeholderData: keepPreviousData,
  });

export const categoriesQuery = (range: Range) =>
  queryOptions({
    queryKey: ["categories", range],
    queryFn: () => unwrap(api.GET("/analytics/categories", { params: { query: range } })),
  });

export const sentimentsQuery = (range: Range) =>
  queryOptions({
    queryKey: ["sentiments", range],
    queryFn: () => unwrap(api.GET("/analytics/sentiments", { params: { query: range } })),
  });

export const costQuery = (range: Range) =>
  queryOptions({
    queryKey: ["cost", range],
    queryFn: () => unwrap(api.GET("/analytics/cost", { params: { query: range } })),
  });

export const ticketsQuery = (filters: TicketFilters) =>
  queryOptions({
    queryKey: ["tickets", filters],
    queryFn: () => unwrap(api.GET("/tickets/", { params: { query: filters } })),
    placeholderData: keepPreviousData,
  });

export const ticketQuery = (id: number) =>
  queryOptions({
    queryKey: ["ticket", id],
    queryFn: () => unwrap(api.GET("/tickets/{ticket_id}", { params: { path: { ticket_id: id } } })),
  });

export const jobsQuery = () =>
  queryOptions({
    queryKey: ["jobs"],
    queryFn: () => unwrap(api.GET("/tickets/jobs", { params: { query: { limit: 50 } } })),
    refetchInterval: (query) =>
      query.state.data?.items.some((job) => isActive(job.state)) ? 1500 : 10_000,
  });

export const jobQuery = (id: string) =>
  queryOptions({
    queryKey: ["job", id],
    queryFn: () => unwrap(api.GET("/tickets/jobs/{job_id}", { params: { path: { job_id: id } } })),
    refetchInterval: (query) =>
      query.state.data && !isActive(query.state.data.state) ? false : 1000,
  });

export const settingsQuery = () =>
  queryOptions({
    queryKey: ["settings"],
    queryFn: () => unwrap(api.GET("/settings/")),
  });

export const integrationsStatusQuery = () =>
  queryOptions({
    queryKey: ["integrations-status"],
    queryFn: () => unwrap(api.GET("/settings/integrations/status")),
  });

export function isActive(state: string): boolean {
  return state === "queued" || state === "running";
}

export type Job = Schemas["JobOut"];
export type Dashboard = Schemas["Dashboard"];
