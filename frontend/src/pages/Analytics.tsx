import { useMutation, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { downloadCsv } from "../api/client";
import {
  CostTimeChart,
  DistributionBars,
  DistributionPie,
  VolumeChart,
} from "../components/LazyCharts";
import { RangePicker, useRange } from "../components/RangePicker";
import { SentimentTrend } from "../components/SentimentTrend";
import { Empty, ErrorMessage, QueryState } from "../components/Status";
import { formatNumber, formatUsd } from "../format";
import { categoriesQuery, costQuery, sentimentsQuery, trendsQuery } from "../queries";

export function AnalyticsPage() {
  const range = useRange();
  const [params, setParams] = useSearchParams();
  const interval = params.get("interval") === "week" ? "week" : "day";
  const trends = useQuery(trendsQuery(range.range, interval));
  const categories = useQuery(categoriesQuery(range.range));
  const sentiments = useQuery(sentimentsQuery(range.range));
  const cost = useQuery(costQuery(range.range));
  const exportCsv = useMutation({ mutationFn: () => downloadCsv(range.range) });
  const setInterval = (value: string) => {
    const next = new URLSearchParams(params);
    next.set("interval", value);
    setParams(next, { replace: true });
  };
  return (
    <>
      <div className="page-header">
        <h1>Analytics</h1>
        <RangePicker value={range} />
      </div>
      <section className="card">
        <div className="row-between">
          <h2>Trend</h2>
          <div role="radiogroup" aria-label="Interval" className="segmented">
            {(["day", "week"] as const).map((value) => (
              <button
                key={value}
                type="button"
                role="radio"
                aria-checked={interval === value}
                className={interval === value ? "chosen" : undefined}
                onClick={() => setInterval(value)}
              >
                By {value}
              </button>
            ))}
          </div>
        </div>
        <QueryState query={trends} label="the trend">
          {(data) =>
            data.points.length === 0 ? (
              <Empty>No tickets in this period.</Empty>
            ) : (
              <div className="grid-2">
                <VolumeChart points={data.points} title={`Tickets per ${interval}`} />
                <CostTimeChart
                  points={data.points}
                  title={`Cost and processing time per ${interval}`}
                />
              </div>
            )
          }
        </QueryState>
      </section>
      <section className="grid-2">
        <div className="card">
          <h2>Categories</h2>
          <QueryState query={categories} label="categories">
            {(data) => (
              <DistributionPie items={data.distribution.items} title="Tickets by category" />
            )}
          </QueryState>
        </div>
        <div className="card">
          <h2>Sentiment</h2>
          <QueryState query={sentiments} label="sentiments">
            {(data) => (
              <DistributionBars items={data.distribution.items} title="Tickets by sentiment" />
            )}
          </QueryState>
          <SentimentTrend range={range.range} />
        </div>
      </section>
      <section className="card" aria-labelledby="cost-title">
        <h2 id="cost-title">Cost by path and savings</h2>
        <QueryState query={cost} label="the cost report">
          {(report) => (
            <>
              <div className="cards">
                <div className="card stat">
                  <div className="stat-label">Total cost</div>
                  <div className="stat-value">{formatUsd(report.total_cost_usd, 2)}</div>
                  <div className="muted small">{formatNumber(report.tickets)} tickets</div>
                </div>
                <div className="card stat">
                  <div className="stat-label">Per ticket</div>
                  <div className="stat-value">{formatUsd(report.cost_per_ticket_usd)}</div>
                </div>
                <div className="card stat">
                  <div className="stat-label">LLM calls avoided</div>
                  <div className="stat-value">{formatNumber(report.llm_calls_avoided)}</div>
                  <div className="muted small">
                    {report.llm_batch_pending} waiting in the Batch API
                  </div>
                </div>
                <div className="card stat">
                  <div className="stat-label">Estimated savings</div>
                  <div className="stat-value">{formatUsd(report.estimated_savings_usd, 2)}</div>
                  <div className="muted small">
                    {report.savings_percentage === null
                      ? "vs all-LLM: no LLM price basis yet"
                      : `${report.savings_percentage.toFixed(0)}% vs all-LLM (${report.all_llm_basis ?? ""})`}
                  </div>
                </div>
              </div>
              {report.by_path.length === 0 ? (
                <Empty>No tickets in this period.</Empty>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Path</th>
                      <th scope="col">Tickets</th>
                      <th scope="col">Total</th>
                      <th scope="col">Per ticket</th>
                      <th scope="col">Input tokens (cached)</th>
                      <th scope="col">Output tokens</th>
                    </tr>
                  </thead>
                  <tbody>
                    {report.by_path.map((path) => (
                      <tr key={path.source}>
                        <td>{path.source}</td>
                        <td>{formatNumber(path.tickets)}</td>
                        <td>{formatUsd(path.total_cost_usd)}</td>
                        <td>{formatUsd(path.cost_per_ticket_usd, 6)}</td>
                        <td>
                          {formatNumber(path.input_tokens)} (
                          {formatNumber(path.cached_input_tokens)})
                        </td>
                        <td>{formatNumber(path.output_tokens)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )}
        </QueryState>
      </section>
      <section className="card" aria-labelledby="export-title">
        <h2 id="export-title">Export</h2>
        <p className="muted">
          Every analysis from {range.from} to {range.to} ({range.tz}) as CSV.
        </p>
        <button type="button" onClick={() => exportCsv.mutate()} disabled={exportCsv.isPending}>
          {exportCsv.isPending ? "Preparing…" : "Export CSV"}
        </button>{" "}
        <span role="status" className="ok">
          {exportCsv.isSuccess ? `Downloaded (${formatNumber(exportCsv.data)} bytes)` : ""}
        </span>
        {exportCsv.isError && <ErrorMessage error={exportCsv.error} title="Export failed" />}
      </section>
    </>
  );
}
