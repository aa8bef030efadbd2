/** The one API client: typed from the backend's OpenAPI document (see `npm run generate`). */
import createClient, { type Middleware } from "openapi-fetch";
import { currentToken, endSession } from "./auth";
import type { Range } from "../queries";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown; request_id?: string };
}

/** An API error in the service's one shape: `{"error": {code, message, details, request_id}}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly details: unknown;

  constructor(status: number, body: unknown, requestId: string | null) {
    const error = (body as ErrorBody | undefined)?.error;
    super(error?.message ?? `The server answered ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = error?.code ?? "http_error";
    this.requestId = error?.request_id ?? requestId;
    this.details = error?.details;
  }
}

const authMiddleware: Middleware = {
  onRequest({ request }) {
    const token = currentToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && request.headers.has("Authorization")) {
      endSession("Your session expired. Sign in again.");
    }
    return response;
  },
};

// Same origin: the API serves this app (and the dev server proxies to it).
export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  fetch: (request) => globalThis.fetch(request),
});
api.use(authMiddleware);

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful call, or an ApiError carrying the message and request id. */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (cause) {
    throw new ApiError(0, { error: { message: `Network error: ${String(cause)}` } }, null);
  }
  const { data, error, response } = result;
  if (!response.ok || error !== undefined) {
    throw new ApiError(response.status, error, response.headers.get("X-Request-ID"));
  }
  return data as T;
}

/** The analyses of a range as CSV (a file download needs the bearer token, so fetch it). */
export async function downloadCsv(query: Range) {
  const blob: Blob = await unwrap<Blob>(
    api.GET("/analytics/export.csv", { params: { query }, parseAs: "blob" }),
  );
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `ticket-analyses-${(query.start ?? "").slice(0, 10)}-${(query.end ?? "").slice(0, 10)}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob.size;
}
