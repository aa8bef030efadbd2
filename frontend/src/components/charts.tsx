/** Recharts wrappers, loaded lazily (see LazyCharts) so the first page load stays small.
 * Every chart comes with a text summary for screen readers and a data table on demand. */
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  Line,
  LineChart,
  Pie,
  PieChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { Schemas } from "../api/client";
import { formatDay, formatMs, formatUsd } from "../format";
import { COLORS, summary } from "./ShareBar";

type LabelCount = Schemas["LabelCount"];
type TrendPoint = Schemas["TrendPoint"];

export function DistributionPie({ items, title }: { items: LabelCount[]; title: string }) {
  return (
    <figure className="chart" aria-label={title}>
      <div aria-hidden="true" className="chart-canvas">
        <ResponsiveContainer width="100%" height={220}>
          <PieChart>
            <Pie
              data={items}
              dataKey="count"
              nameKey="label"
              innerRadius={50}
              outerRadius={85}
              isAnimationActive={false}
            >
              {items.map((item) => (
                <Cell key={item.label} fill={COLORS[item.label] ?? "#999"} />
              ))}
            </Pie>
            <Tooltip />
            <Legend />
          </PieChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="chart-summary">{summary(items)}</figcaption>
    </figure>
  );
}

export function DistributionBars({ items, title }: { items: LabelCount[]; title: string }) {
  return (
    <figure className="chart" aria-label={title}>
      <div aria-hidden="true" className="chart-canvas">
        <ResponsiveContainer width="100%" height={220}>
          <BarChart data={items} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="label" />
            <YAxis allowDecimals={false} />
            <Tooltip />
            <Bar dataKey="count" name="Tickets" isAnimationActive={false}>
              {items.map((item) => (
                <Cell key={item.label} fill={COLORS[item.label] ?? "#2f5bd3"} />
              ))}
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="chart-summary">{summary(items)}</figcaption>
    </figure>
  );
}

function trendSummary(points: TrendPoint[]): string {
  if (points.length === 0) return "No tickets in this period.";
  const total = points.reduce((sum, point) => sum + point.tickets, 0);
  const busiest = points.reduce((best, point) => (point.tickets > best.tickets ? point : best));
  return `${total} tickets over ${points.length} periods; busiest ${formatDay(busiest.period_start)} with ${busiest.tickets}.`;
}

export function VolumeChart({ points, title }: { points: TrendPoint[]; title: string }) {
  const data = points.map((point) => ({ ...point, day: formatDay(point.period_start) }));
  return (
    <figure className="chart" aria-label={title}>
      <div aria-hidden="true" className="chart-canvas">
        <ResponsiveContainer width="100%" height={220}>
          <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="day" minTickGap={16} />
            <YAxis allowDecimals={false} />
            <Tooltip />
            <Bar dataKey="tickets" name="Tickets" fill="#2f5bd3" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="chart-summary">{trendSummary(points)}</figcaption>
    </figure>
  );
}

export function CostTimeChart({ points, title }: { points: TrendPoint[]; title: string }) {
  const data = points.map((point) => ({
    day: formatDay(point.period_start),
    cost: Number(point.total_cost_usd),
    ms: point.average_processing_time_ms ?? null,
  }));
  const totalCost = data.reduce((sum, point) => sum + point.cost, 0);
  const times = data.flatMap((point) => (point.ms === null ? [] : [point.ms]));
  const text =
    points.length === 0
      ? "No tickets in this period."
      : `Total cost ${formatUsd(totalCost)}; processing time per ticket between ${formatMs(Math.min(...times))} and ${formatMs(Math.max(...times))}.`;
  return (
    <figure className="chart" aria-label={title}>
      <div aria-hidden="true" className="chart-canvas">
        <ResponsiveContainer width="100%" height={220}>
          <LineChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="day" minTickGap={16} />
            <YAxis yAxisId="cost" />
            <YAxis yAxisId="ms" orientation="right" />
            <Tooltip />
            <Legend />
            <Line
              yAxisId="cost"
              dataKey="cost"
              name="Cost (USD)"
              stroke="#c98a00"
              dot={{ r: 2 }}
              connectNulls
              isAnimationActive={false}
            />
            <Line
              yAxisId="ms"
              dataKey="ms"
              name="Avg time (ms)"
              stroke="#2f5bd3"
              dot={{ r: 2 }}
              connectNulls
              isAnimationActive={false}
            />
          </LineChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="chart-summary">{text}</figcaption>
    </figure>
  );
}

export interface SentimentBucket {
  label: string;
  positive: number;
  neutral: number;
  negative: number;
}

export function SentimentTrendChart({
  buckets,
  title,
}: {
  buckets: SentimentBucket[];
  title: string;
}) {
  const text =
    buckets.length === 0
      ? "No tickets in this period."
      : buckets
          .filter((b) => b.positive + b.neutral + b.negative > 0)
          .map(
            (b) =>
              `${b.label}: ${b.positive} positive, ${b.neutral} neutral, ${b.negative} negative`,
          )
          .join("; ");
  return (
    <figure className="chart" aria-label={title}>
      <div aria-hidden="true" className="chart-canvas">
        <ResponsiveContainer width="100%" height={220}>
          <BarChart data={buckets} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="label" minTickGap={8} />
            <YAxis allowDecimals={false} />
            <Tooltip />
            <Legend />
            {(["negative", "neutral", "positive"] as const).map((key) => (
              <Bar
                key={key}
                dataKey={key}
                stackId="s"
                fill={COLORS[key]}
                isAnimationActive={false}
              />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="chart-summary">{text}</figcaption>
    </figure>
  );
}
