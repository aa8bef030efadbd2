import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, useLocation, type Location } from "react-router";
import { saveSession } from "./api/auth";
import { AppRoutes, makeQueryClient } from "./App";
import { fakeApi } from "./test/api";

const EMPTY_DASHBOARD = {
  period: { start: "2026-11-06T00:00:00Z", end: "2026-12-06T00:00:00Z", timezone: "UTC" },
  processed: { today: 0, this_week: 0, this_month: 0 },
  tickets: 0,
  average_processing_time_ms: null,
  total_cost_usd: "0",
  average_cost_usd: null,
  categories: { total: 0, items: [] },
  urgencies: { total: 0, items: [] },
  sentiments: { total: 0, items: [] },
  sources: { total: 0, items: [] },
  daily_trend: [],
  accuracy: {
    rated_tickets: 0,
    category: { rated: 0, correct: 0, accuracy: null },
    urgency: { rated: 0, correct: 0, accuracy: null },
    sentiment: { rated: 0, correct: 0, accuracy: null },
  },
  recent_tickets: [],
};

const ME = {
  id: 1,
  email: "ops@example.com",
  full_name: null,
  timezone: "UTC",
  created_at: "2026-12-01T00:00:00Z",
};

function renderAt(path: string) {
  const seen: { location: Location | null } = { location: null };
  function Spy() {
    seen.location = useLocation();
    return null;
  }
  render(
    <QueryClientProvider client={makeQueryClient()}>
      <MemoryRouter initialEntries={[`/app${path}`]} basename="/app">
        <AppRoutes />
        <Spy />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return seen;
}

describe("the app", () => {
  it("sends a visitor without a token to the login page, remembering where they were going", async () => {
    fakeApi({});
    const seen = renderAt("/tickets?category=bug");
    expect(await screen.findByRole("heading", { name: "Sign in to Ticket Triage" })).toBeVisible();
    expect(seen.location?.pathname).toBe("/login");
    expect(seen.location?.state).toEqual({ from: "/tickets?category=bug" });
  });

  it("returns to login with a message when the token has expired", async () => {
    fakeApi({});
    saveSession("old-token", -1);
    renderAt("/");
    expect(await screen.findByText("Your session expired. Sign in again.")).toBeVisible();
  });

  it("signs in with the OAuth2 password form and keeps the token for its lifetime", async () => {
    const { calls } = fakeApi({
      "POST /auth/login": () => ({ access_token: "tok-1", token_type: "bearer", expires_in: 3600 }),
      "GET /auth/me": () => ME,
      "GET /analytics/dashboard": () => EMPTY_DASHBOARD,
      "GET /settings/": () => ({ integration: { sandbox_in_use: true } }),
    });
    renderAt("/login");
    await userEvent.type(screen.getByLabelText("Email"), "ops@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "correct-horse");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "No processed tickets yet" })).toBeVisible();
    const login = calls.find((call) => call.path === "/auth/login");
    expect(login?.contentType).toBe("application/x-www-form-urlencoded");
    expect(new URLSearchParams(login?.body ?? "").get("username")).toBe("ops@example.com");
    expect(calls.find((call) => call.path.startsWith("/analytics/dashboard"))?.auth).toBe(
      "Bearer tok-1",
    );
    const stored = JSON.parse(localStorage.getItem("ticket-triage.session") ?? "{}");
    expect(stored.expiresAt).toBeGreaterThan(Date.now() + 3500_000);
  });

  it("processes the first sandbox tickets from the dashboard's empty state", async () => {
    saveSession("tok", 3600);
    const { calls } = fakeApi({
      "GET /auth/me": () => ME,
      "GET /analytics/dashboard": () => EMPTY_DASHBOARD,
      "GET /settings/": () => ({ integration: { sandbox_in_use: true } }),
      "POST /tickets/process-batch": () =>
        Response.json(
          {
            id: "job-1",
            state: "queued",
            origin: "api",
            progress: { done: 0, failed: 0, total: 25 },
            created_at: "2026-12-05T10:00:00Z",
            items: null,
          },
          { status: 202 },
        ),
      "GET /tickets/jobs/job-1": () => ({
        id: "job-1",
        state: "running",
        origin: "api",
        progress: { done: 10, failed: 0, total: 25 },
        created_at: "2026-12-05T10:00:00Z",
        items: [],
      }),
    });
    renderAt("/");
    await userEvent.click(
      await screen.findByRole("button", { name: "Process the first 25 sandbox tickets" }),
    );
    await waitFor(() => expect(screen.getByText(/10 done · 0 failed · 25 total/)).toBeVisible());
    const batch = calls.find((call) => call.path === "/tickets/process-batch");
    expect(JSON.parse(batch?.body ?? "{}").ticket_ids).toHaveLength(25);
  });

  it("shows an API error with its request id instead of a blank page", async () => {
    saveSession("tok", 3600);
    fakeApi({
      "GET /auth/me": () => ME,
      "GET /analytics/dashboard": () =>
        Response.json(
          {
            error: {
              code: "validation_error",
              message: "tz: unknown time zone",
              details: null,
              request_id: "abc123",
            },
          },
          { status: 422 },
        ),
    });
    renderAt("/");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("tz: unknown time zone");
    expect(alert).toHaveTextContent("abc123");
  });

  it("reads the ticket filters, sort and page from the URL and sends them to the API", async () => {
    saveSession("tok", 3600);
    const { calls } = fakeApi({
      "GET /auth/me": () => ME,
      "GET /tickets/": () => ({ items: [], total: 60, page: 2, page_size: 25 }),
    });
    renderAt("/tickets?category=bug&urgency=high&q=refund&sort=subject&page=2&start=2026-12-01");
    await waitFor(() => expect(calls.some((call) => call.path.startsWith("/tickets/"))).toBe(true));
    const sent = new URL(calls.find((call) => call.path.startsWith("/tickets/"))!.path, "http://x")
      .searchParams;
    expect(Object.fromEntries(sent)).toEqual({
      category: "bug",
      urgency: "high",
      q: "refund",
      sort: "subject",
      page: "2",
      page_size: "25",
      start: "2026-12-01T00:00:00",
    });
    expect(await screen.findByLabelText("Urgency")).toHaveValue("high");
  });
});
