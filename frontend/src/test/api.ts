/** A fake API for component tests: routes by method and path, records the requests. */
import { vi } from "vitest";

export type Handler = (request: Request) => unknown;

export function fakeApi(routes: Record<string, Handler>) {
  const calls: {
    method: string;
    path: string;
    body: string | null;
    auth: string | null;
    contentType: string | null;
  }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const key = `${request.method} ${url.pathname}`;
    const body = request.method === "GET" ? null : await request.clone().text();
    calls.push({
      method: request.method,
      path: url.pathname + url.search,
      body,
      auth: request.headers.get("Authorization"),
      contentType: request.headers.get("Content-Type"),
    });
    const handler = routes[key];
    if (!handler) {
      return Response.json(
        {
          error: {
            code: "not_found",
            message: `no route ${key}`,
            details: null,
            request_id: "test-404",
          },
        },
        { status: 404 },
      );
    }
    const result = handler(request);
    return result instanceof Response ? result : Response.json(result);
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock };
}
