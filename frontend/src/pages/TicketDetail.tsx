import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Badge, Empty, ErrorMessage, QueryState } from "../components/Status";
import {
  CATEGORIES,
  SENTIMENTS,
  URGENCIES,
  formatDateTime,
  formatMs,
  formatPercent,
  formatUsd,
  titleCase,
} from "../format";
import { ticketQuery } from "../queries";

type Analysis = Schemas["AnalysisOut"];
type FeedbackField = "category" | "urgency" | "sentiment";

export function TicketDetailPage() {
  const id = Number(useParams().ticketId);
  const query = useQuery({ ...ticketQuery(id), enabled: Number.isInteger(id) && id > 0 });
  if (!Number.isInteger(id) || id <= 0)
    return <ErrorMessage error={new Error("Not a ticket id")} />;
  return (
    <>
      <p className="breadcrumb">
        <Link to="/tickets">← Tickets</Link>
      </p>
      <QueryState query={query} label={`ticket #${id}`}>
        {(detail) => (
          <>
            <div className="page-header">
              <h1>
                #{detail.ticket.zendesk_ticket_id} {detail.ticket.subject}
              </h1>
              <span className="muted">
                Zendesk status {detail.ticket.status ?? "—"} · priority{" "}
                {detail.ticket.priority ?? "—"}
              </span>
            </div>
            {detail.analysis ? (
              <AnalysisView id={id} analysis={detail.analysis} />
            ) : (
              <Empty>This ticket has not been analysed yet.</Empty>
            )}
            <section className="card">
              <h2>Processing log</h2>
              {detail.logs.length === 0 ? (
                <Empty>No processing steps recorded.</Empty>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Step</th>
                      <th scope="col">Status</th>
                      <th scope="col">Duration</th>
                      <th scope="col">Cost</th>
                      <th scope="col">Message</th>
                      <th scope="col">When</th>
                    </tr>
                  </thead>
                  <tbody>
                    {detail.logs.map((log, index) => (
                      <tr key={`${log.step}-${index}`}>
                        <td>{titleCase(log.step)}</td>
                        <td>
                          <Badge value={log.status} kind="status" />
                        </td>
                        <td>{formatMs(log.duration_ms)}</td>
                        <td>{formatUsd(log.cost_usd, 6)}</td>
                        <td className="message">{log.message ?? ""}</td>
                        <td>{formatDateTime(log.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </>
        )}
      </QueryState>
    </>
  );
}

function AnalysisView({ id, analysis }: { id: number; analysis: Analysis }) {
  const pii = Object.entries(analysis.pii_redactions).filter(([, count]) => count > 0);
  return (
    <div className="grid-2">
      <section className="card">
        <h2>Analysis</h2>
        <dl className="facts">
          <dt>Category</dt>
          <dd>
            <Badge value={analysis.category} /> {formatPercent(analysis.category_confidence)}
          </dd>
          <dt>Urgency</dt>
          <dd>
            <Badge value={analysis.urgency} /> {formatPercent(analysis.urgency_confidence)}
          </dd>
          <dt>Sentiment</dt>
          <dd>
            <Badge value={analysis.sentiment} /> {formatPercent(analysis.sentiment_confidence)}
          </dd>
          <dt>Confidence</dt>
          <dd>{formatPercent(analysis.confidence)}</dd>
          <dt>Language</dt>
          <dd>{analysis.language ?? "—"}</dd>
          <dt>Answered by</dt>
          <dd>
            {analysis.source}
            {analysis.model ? ` (${analysis.model})` : ""}
            {analysis.decision_reason && (
              <div className="muted small">{analysis.decision_reason}</div>
            )}
          </dd>
          <dt>PII redacted</dt>
          <dd>
            {pii.length === 0
              ? "none found"
              : pii.map(([kind, count]) => `${kind} ${count}`).join(", ")}
          </dd>
          <dt>Tokens</dt>
          <dd>
            {analysis.input_tokens} in ({analysis.cached_input_tokens} cached) ·{" "}
            {analysis.output_tokens} out
          </dd>
          <dt>Cost · time</dt>
          <dd>
            {formatUsd(analysis.cost_usd, 6)} · {formatMs(analysis.processing_time_ms)}
          </dd>
          <dt>Tags written</dt>
          <dd>
            {analysis.tags_written.length === 0 ? (
              "none"
            ) : (
              <ul className="tags">
                {analysis.tags_written.map((tag) => (
                  <li key={tag}>
                    <code>{tag}</code>
                  </li>
                ))}
              </ul>
            )}
            {analysis.written_back_at && (
              <div className="muted small">
                written back {formatDateTime(analysis.written_back_at)}
              </div>
            )}
          </dd>
        </dl>
      </section>
      <section className="card">
        <h2>Summary</h2>
        <p>{analysis.summary}</p>
        <h2>Reply draft</h2>
        {analysis.reply_draft ? (
          <>
            <pre className="draft">{analysis.reply_draft}</pre>
            <CopyButton text={analysis.reply_draft} />
          </>
        ) : (
          <p className="muted">
            No reply draft: drafts come from the LLM (set a key and turn on reply drafts in
            Settings).
          </p>
        )}
      </section>
      <Feedback id={id} analysis={analysis} />
    </div>
  );
}

function CopyButton({ text }: { text: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };
  return (
    <>
      <button type="button" onClick={() => void copy()}>
        Copy reply draft
      </button>{" "}
      <span role="status" className="muted small">
        {state === "copied" ? "Copied" : state === "failed" ? "Copy failed: select the text" : ""}
      </span>
    </>
  );
}

const FIELDS: { field: FeedbackField; label: string; options: readonly string[] }[] = [
  { field: "category", label: "Category", options: CATEGORIES },
  { field: "urgency", label: "Urgency", options: URGENCIES },
  { field: "sentiment", label: "Sentiment", options: SENTIMENTS },
];

function Feedback({ id, analysis }: { id: number; analysis: Analysis }) {
  const queryClient = useQueryClient();
  const mutation = useMutation({
    mutationFn: (body: Partial<Record<FeedbackField, string>>) =>
      unwrap(
        api.POST("/tickets/{ticket_id}/feedback", {
          params: { path: { ticket_id: id } },
          body: body as Schemas["FeedbackIn"],
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries(),
  });
  return (
    <section className="card span-2" aria-labelledby="feedback-title">
      <h2 id="feedback-title">Is this right?</h2>
      <p className="muted small">
        Pick the correct value: your answers measure accuracy on the dashboard and teach your
        offline model.
      </p>
      {FIELDS.map(({ field, label, options }) => {
        const given = analysis[`feedback_${field}`];
        return (
          <div key={field} className="feedback-row" role="group" aria-label={`Correct ${label}`}>
            <span className="feedback-label">{label}</span>
            {options.map((option) => {
              const predicted = analysis[field] === option;
              return (
                <button
                  key={option}
                  type="button"
                  className={given === option ? "choice chosen" : "choice"}
                  aria-pressed={given === option}
                  disabled={mutation.isPending}
                  onClick={() => mutation.mutate({ [field]: option })}
                >
                  {option}
                  {predicted ? " (predicted)" : ""}
                </button>
              );
            })}
          </div>
        );
      })}
      <div role="status" aria-live="polite">
        {mutation.isSuccess && <span className="ok">Thanks: feedback saved.</span>}
      </div>
      {mutation.isError && <ErrorMessage error={mutation.error} title="Feedback not saved" />}
    </section>
  );
}
