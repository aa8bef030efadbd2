import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import {
  DistributionBars,
  DistributionPie,
  preloadCharts,
  VolumeChart,
} from "../components/LazyCharts";
import { JobProgressBar } from "../components/JobProgress";
import { RangePicker, useRange } from "../components/RangePicker";
import { SentimentTrend, useSentimentTrend } from "../components/SentimentTrend";
import { ShareBar } from "../components/ShareBar";
import { Badge, Empty, ErrorMessage, QueryState } from "../components/Status";
import { formatDateTime, formatMs, formatNumber, formatPercent, formatUsd } from "../format";
import { dashboardQuery, isActive, jobQuery, settingsQuery, type Dashboard } from "../queries";

/** The built-in sandbox's seeded tickets are numbered from 1. */
export const FIRST_SANDBOX_TICKETS = Array.from({ length: 25 }, (_, index) => index + 1);

function Card({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="card stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="muted small">{hint}</div>}
    </div>
  );
}

function accuracyText(data: Dashboard): { value: string; hint: string } {
  const { accuracy } = data;
  if (accuracy.rated_tickets === 0)
    return { value: "—", hint: "No feedback yet: correct a ticket to measure it" };
  const fields = [accuracy.category, accuracy.urgency, accuracy.sentiment];
  const rated = fields.reduce((sum, field) => sum + field.rated, 0);
  const correct = fields.reduce((sum, field) => sum + field.correct, 0);
  return {
    value: formatPercent(rated ? correct / rated : null),
    hint: `${accuracy.rated_tickets} rated tickets · category ${formatPercent(accuracy.category.accuracy)}`,
  };
}

function FirstTickets() {
  const queryClient = useQueryClient();
  const settings = useQuery(settingsQuery());
  const [jobId, setJobId] = useState<string | null>(null);
  const start = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/tickets/process-batch", { body: { ticket_ids: FIRST_SANDBOX_TICKETS } })),
    onSuccess: (job) => setJobId(job.id),
  });
  const job = useQuery({ ...jobQuery(jobId ?? ""), enabled: jobId !== null });
  const finished = job.data && !isActive(job.data.state);
  useEffect(() => {
    if (finished) void queryClient.invalidateQueries();
  }, [finished, queryClient]);
  const sandbox = settings.data?.integration.sandbox_in_use;
  return (
    <Empty>
      <h2>No processed tickets yet</h2>
      {sandbox === false ? (
        <p>
          Your Zendesk account is connected. Process tickets from the <Link to="/jobs">Jobs</Link>{" "}
          page, or let webhooks bring new ones in (see <Link to="/settings">Settings</Link>).
        </p>
      ) : (
        <>
          <p>
            No Zendesk account is set, so the built-in sandbox is used: it holds a few hundred
            realistic tickets numbered from 1. Process the first {FIRST_SANDBOX_TICKETS.length} to
            see the dashboard fill in, or connect your own account in{" "}
            <Link to="/settings">Settings</Link>.
          </p>
          <button
            type="button"
            onClick={() => start.mutate()}
            disabled={start.isPending || (job.data !== undefined && !finished)}
          >
            Process the first {FIRST_SANDBOX_TICKETS.length} sandbox tickets
          </button>
        </>
      )}
      {start.isError && <ErrorMessage error={start.error} title="Could not start the batch" />}
      {job.data && <JobProgressBar job={job.data} />}
    </Empty>
  );
}

export function DashboardPage() {
  const range = useRange();
  const query = useQuery(dashboardQuery(range.range));
  // Charts code and the sentiment buckets load in parallel with the dashboard's figures.
  useSentimentTrend(range.range);
  useEffect(preloadCharts, []);
  return (
    <>
      <div className="page-header">
        <h1>Dashboard</h1>
        <RangePicker value={range} />
      </div>
      <QueryState query={query} label="the dashboard">
        {(data) =>
          data.tickets === 0 && data.processed.this_month === 0 ? (
            <FirstTickets />
          ) : (
            <div data-ready="dashboard" aria-busy={query.isFetching}>
              <section className="cards" aria-label="Key figures">
                <Card label="Processed today" value={formatNumber(data.processed.today)} />
                <Card label="This week" value={formatNumber(data.processed.this_week)} />
                <Card label="This month" value={formatNumber(data.processed.this_month)} />
                <Card
                  label="Avg processing time"
                  value={formatMs(data.average_processing_time_ms)}
                  hint={`${formatNumber(data.tickets)} tickets in the period`}
                />
                <Card
                  label="Total cost"
                  value={formatUsd(data.total_cost_usd, 2)}
                  hint={`avg ${formatUsd(data.average_cost_usd)} per ticket`}
                />
                <Card label="Accuracy from feedback" {...accuracyText(data)} />
              </section>
              <section className="grid-2">
                <div className="card">
                  <h2>Categories</h2>
                  <DistributionPie items={data.categories.items} title="Tickets by category" />
                </div>
                <div className="card">
                  <h2>Daily volume</h2>
                  <VolumeChart points={data.daily_trend} title="Tickets per day" />
                </div>
                <div className="card">
                  <h2>Urgency</h2>
                  <DistributionBars items={data.urgencies.items} title="Tickets by urgency" />
                </div>
                <div className="card">
                  <h2>Sentiment trend</h2>
                  <SentimentTrend range={range.range} />
                  <ShareBar items={data.sentiments.items} title="Tickets by sentiment" />
                  <h3>Who answered</h3>
                  <ShareBar items={data.sources.items} title="Tickets by analysis source" />
                </div>
              </section>
              <section className="card">
                <h2>Recent tickets</h2>
                <RecentTickets data={data} />
              </section>
            </div>
          )
        }
      </QueryState>
    </>
  );
}

function RecentTickets({ data }: { data: Dashboard }) {
  if (data.recent_tickets.length === 0) return <Empty>No tickets in this period.</Empty>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Ticket</th>
          <th scope="col">Subject</th>
          <th scope="col">Category</th>
          <th scope="col">Urgency</th>
          <th scope="col">Sentiment</th>
          <th scope="col">Confidence</th>
          <th scope="col">Analysed</th>
        </tr>
      </thead>
      <tbody>
        {data.recent_tickets.map((ticket) => (
          <tr key={ticket.zendesk_ticket_id}>
            <td>
              <Link to={`/tickets/${ticket.zendesk_ticket_id}`}>#{ticket.zendesk_ticket_id}</Link>
            </td>
            <td className="subject">{ticket.subject}</td>
            <td>
              <Badge value={ticket.category} />
            </td>
            <td>
              <Badge value={ticket.urgency} />
            </td>
            <td>
              <Badge value={ticket.sentiment} />
            </td>
            <td>{formatPercent(ticket.confidence)}</td>
            <td>{formatDateTime(ticket.analysed_at, data.period.timezone)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
