import { render, screen } from "@testing-library/react";
import { ApiError } from "../api/client";
import { ErrorMessage } from "./Status";

describe("ErrorMessage", () => {
  it("shows the API's message and the request id support asks for", () => {
    const error = new ApiError(
      422,
      {
        error: { code: "validation_error", message: "ticket_ids: too many", request_id: "req-42" },
      },
      null,
    );
    render(<ErrorMessage error={error} title="Batch refused" />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("Batch refused: ticket_ids: too many");
    expect(alert).toHaveTextContent("Request id: req-42");
  });

  it("falls back to the X-Request-ID header when the body has none", () => {
    const error = new ApiError(502, "Bad gateway", "hdr-7");
    render(<ErrorMessage error={error} />);
    expect(screen.getByRole("alert")).toHaveTextContent("The server answered 502");
    expect(screen.getByRole("alert")).toHaveTextContent("hdr-7");
  });
});
