import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, unwrap } from "../api/client";
import { JobProgressBar } from "../components/JobProgress";
import { Badge, Empty, ErrorMessage, QueryState } from "../components/Status";
import { formatDateTime, titleCase } from "../format";
import { isActive, jobQuery, jobsQuery } from "../queries";

const MAX_BATCH = 100;

/** Ticket ids from pasted text (any separators) or an inclusive range. */
export function parseIds(text: string, from: string, to: string): number[] | string {
  const ids = new Set<number>();
  for (const token of text.split(/[^0-9]+/).filter(Boolean)) ids.add(Number(token));
  if (from || to) {
    const first = Number(from);
    const last = Number(to);
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last < first)
      return "The range needs a first and a last id, first ≤ last.";
    if (last - first + 1 > MAX_BATCH) return `A batch holds at most ${MAX_BATCH} tickets.`;
    for (let id = first; id <= last; id++) ids.add(id);
  }
  if (ids.size === 0) return "Paste ticket ids or give a range.";
  if ([...ids].some((id) => !Number.isSafeInteger(id) || id < 1))
    return "Ticket ids are positive whole numbers.";
  if (ids.size > MAX_BATCH)
    return `A batch holds at most ${MAX_BATCH} tickets (${ids.size} given).`;
  return [...ids];
}

export function JobsPage() {
  const { jobId } = useParams();
  return (
    <>
      <div className="page-header">
        <h1>Jobs</h1>
      </div>
      <div className="grid-jobs">
        <div>
          <SubmitBatch />
          <RecentJobs selected={jobId} />
        </div>
        <div>
          {jobId ? <JobDetail id={jobId} /> : <Empty>Select a job to see its tickets.</Empty>}
        </div>
      </div>
    </>
  );
}

function SubmitBatch() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [text, setText] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const mutation = useMutation({
    mutationFn: (ids: number[]) =>
      unwrap(api.POST("/tickets/process-batch", { body: { ticket_ids: ids } })),
    onSuccess: (job) => {
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      setText("");
      navigate(`/jobs/${job.id}`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const ids = parseIds(text, from, to);
    if (typeof ids === "string") {
      setProblem(ids);
      return;
    }
    setProblem(null);
    mutation.mutate(ids);
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="submit-title">
      <h2 id="submit-title">Process a batch</h2>
      <label>
        Zendesk ticket ids (comma, space or line separated)
        <textarea rows={3} value={text} onChange={(event) => setText(event.target.value)} />
      </label>
      <div className="row">
        <label>
          or from id
          <input
            type="number"
            min={1}
            inputMode="numeric"
            value={from}
            onChange={(event) => setFrom(event.target.value)}
          />
        </label>
        <label>
          to id
          <input
            type="number"
            min={1}
            inputMode="numeric"
            value={to}
            onChange={(event) => setTo(event.target.value)}
          />
        </label>
      </div>
      {problem && (
        <p className="alert alert-error" role="alert">
          {problem}
        </p>
      )}
      {mutation.isError && <ErrorMessage error={mutation.error} title="Batch refused" />}
      <button type="submit" disabled={mutation.isPending}>
        {mutation.isPending ? "Submitting…" : "Process tickets"}
      </button>
    </form>
  );
}

function RecentJobs({ selected }: { selected?: string }) {
  const query = useQuery(jobsQuery());
  return (
    <section className="card" aria-labelledby="recent-jobs">
      <h2 id="recent-jobs">Recent jobs</h2>
      <QueryState query={query} label="jobs">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No jobs yet. Jobs from the API, webhooks and polling appear here.</Empty>
          ) : (
            <ul className="job-list">
              {list.items.map((job) => (
                <li key={job.id} className={job.id === selected ? "selected" : undefined}>
                  <Link
                    to={`/jobs/${job.id}`}
                    aria-current={job.id === selected ? "page" : undefined}
                  >
                    <code>{job.id.slice(0, 8)}</code>
                  </Link>{" "}
                  <Badge value={job.origin} kind="origin" />{" "}
                  <Badge value={job.state} kind="state" />
                  <span className="muted small">
                    {" "}
                    {job.progress.done + job.progress.failed}/{job.progress.total} ·{" "}
                    {formatDateTime(job.created_at)}
                  </span>
                  {isActive(job.state) && (
                    <progress
                      max={Math.max(job.progress.total, 1)}
                      value={job.progress.done + job.progress.failed}
                      aria-label={`Job ${job.id.slice(0, 8)} progress`}
                    />
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </QueryState>
    </section>
  );
}

function JobDetail({ id }: { id: string }) {
  const queryClient = useQueryClient();
  const query = useQuery(jobQuery(id));
  const finished = query.data !== undefined && !isActive(query.data.state);
  useEffect(() => {
    // A finished job changes the job list, the tickets and every chart.
    if (finished) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== "job" });
  }, [finished, queryClient]);
  return (
    <section className="card" aria-labelledby="job-title">
      <h2 id="job-title">Job {id.slice(0, 8)}</h2>
      <QueryState query={query} label="the job">
        {(job) => (
          <>
            <JobProgressBar job={job} />
            <p className="muted small">
              Origin {job.origin} · created {formatDateTime(job.created_at)} · started{" "}
              {formatDateTime(job.started_at)} · finished {formatDateTime(job.finished_at)}
            </p>
            {!job.items || job.items.length === 0 ? (
              <Empty>No tickets in this job.</Empty>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Ticket</th>
                    <th scope="col">Status</th>
                    <th scope="col">Result</th>
                    <th scope="col">Write-back</th>
                  </tr>
                </thead>
                <tbody>
                  {job.items.map((item) => (
                    <tr key={item.ticket_id}>
                      <td>
                        {item.result ? (
                          <Link to={`/tickets/${item.ticket_id}`}>#{item.ticket_id}</Link>
                        ) : (
                          `#${item.ticket_id}`
                        )}
                      </td>
                      <td>
                        <Badge value={item.status} kind="state" />
                      </td>
                      <td>
                        {item.result ? (
                          <>
                            <Badge value={item.result.category} />{" "}
                            <Badge value={item.result.urgency} />{" "}
                            <Badge value={item.result.sentiment} />
                          </>
                        ) : item.error ? (
                          <span className="error-text">{item.error}</span>
                        ) : (
                          <span className="muted">waiting</span>
                        )}
                      </td>
                      <td>{titleCase(item.write_back)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </QueryState>
    </section>
  );
}
