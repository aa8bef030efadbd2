import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useSyncExternalStore, type ReactNode } from "react";
import {
  BrowserRouter,
  Link,
  Navigate,
  useLocation,
  useNavigate,
  useRoutes,
  type RouteObject,
} from "react-router";
import { hasSession, onSessionChange } from "./api/auth";
import { ApiError } from "./api/client";
import { Layout } from "./components/Layout";
import { Loading } from "./components/Status";
import { DashboardPage } from "./pages/Dashboard";
import { LoginPage } from "./pages/Login";
import { RegisterPage } from "./pages/Register";

const TicketsPage = lazy(() => import("./pages/Tickets").then((m) => ({ default: m.TicketsPage })));
const TicketDetailPage = lazy(() =>
  import("./pages/TicketDetail").then((m) => ({ default: m.TicketDetailPage })),
);
const JobsPage = lazy(() => import("./pages/Jobs").then((m) => ({ default: m.JobsPage })));
const SettingsPage = lazy(() =>
  import("./pages/Settings").then((m) => ({ default: m.SettingsPage })),
);
const AnalyticsPage = lazy(() =>
  import("./pages/Analytics").then((m) => ({ default: m.AnalyticsPage })),
);

export function makeQueryClient() {
  return new QueryClient({
    queryCache: new QueryCache(),
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: false,
        // Client errors will not get better by retrying; a flaky network might.
        retry: (count, error) =>
          !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
      },
    },
  });
}

function useSignedIn(): boolean {
  return useSyncExternalStore(onSessionChange, hasSession);
}

/** Pages behind the login: without a live token, off to /login (with a message if it expired). */
function RequireAuth({ children }: { children: ReactNode }) {
  const signedIn = useSignedIn();
  const location = useLocation();
  const navigate = useNavigate();
  useEffect(() => {
    if (!signedIn)
      navigate("/login", { replace: true, state: { from: location.pathname + location.search } });
  }, [signedIn, navigate, location]);
  return signedIn ? <>{children}</> : null;
}

function Page({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}

function NotFound() {
  return (
    <div className="empty">
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to the dashboard</Link>
      </p>
    </div>
  );
}

export const routes: RouteObject[] = [
  { path: "/login", element: <LoginPage /> },
  { path: "/register", element: <RegisterPage /> },
  {
    path: "/",
    element: (
      <RequireAuth>
        <Layout />
      </RequireAuth>
    ),
    children: [
      { index: true, element: <DashboardPage /> },
      {
        path: "tickets",
        element: (
          <Page>
            <TicketsPage />
          </Page>
        ),
      },
      {
        path: "tickets/:ticketId",
        element: (
          <Page>
            <TicketDetailPage />
          </Page>
        ),
      },
      {
        path: "jobs",
        element: (
          <Page>
            <JobsPage />
          </Page>
        ),
      },
      {
        path: "jobs/:jobId",
        element: (
          <Page>
            <JobsPage />
          </Page>
        ),
      },
      {
        path: "settings",
        element: (
          <Page>
            <SettingsPage />
          </Page>
        ),
      },
      {
        path: "analytics",
        element: (
          <Page>
            <AnalyticsPage />
          </Page>
        ),
      },
      { path: "*", element: <NotFound /> },
    ],
  },
  { path: "*", element: <Navigate to="/" replace /> },
];

/** The routes; declarative routing keeps the first load small (no data-router runtime). */
export function AppRoutes() {
  return useRoutes(routes);
}

const queryClient = makeQueryClient();

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter basename="/app">
        <AppRoutes />
      </BrowserRouter>
    </QueryClientProvider>
  );
}
