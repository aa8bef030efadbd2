import { useQueries } from "@tanstack/react-query";
import { sentimentsQuery, type Range } from "../queries";
import { SentimentTrendChart } from "./LazyCharts";
import { ErrorMessage, Loading } from "./Status";

const DAY_MS = 86_400_000;

/** Cuts a range of whole days into at most 12 buckets (days, then weeks, then longer). */
export function buckets(range: Required<Range>): { label: string; start: string; end: string }[] {
  const first = new Date(`${range.start.slice(0, 10)}T00:00:00Z`).getTime();
  const last = new Date(`${range.end.slice(0, 10)}T00:00:00Z`).getTime();
  const days = Math.max(1, Math.round((last - first) / DAY_MS));
  const size = days <= 12 ? 1 : Math.max(7, Math.ceil(days / 12));
  const result = [];
  for (let at = first; at < last; at += size * DAY_MS) {
    const start = new Date(at).toISOString().slice(0, 10);
    const end = new Date(Math.min(at + size * DAY_MS, last)).toISOString().slice(0, 10);
    result.push({ label: start.slice(5), start: `${start}T00:00:00`, end: `${end}T00:00:00` });
  }
  return result;
}

/** One /analytics/sentiments call per bucket; call it early to fetch in parallel. */
export function useSentimentTrend(range: Required<Range>) {
  const parts = buckets(range);
  const results = useQueries({
    queries: parts.map((part) =>
      sentimentsQuery({ start: part.start, end: part.end, tz: range.tz }),
    ),
  });
  return { parts, results };
}

/** Sentiment over time, bucket by bucket. */
export function SentimentTrend({ range }: { range: Required<Range> }) {
  const { parts, results } = useSentimentTrend(range);
  const failed = results.find((result) => result.isError);
  if (failed)
    return <ErrorMessage error={failed.error} title="Could not load the sentiment trend" />;
  if (results.some((result) => result.isPending)) return <Loading label="Loading sentiment…" />;
  const data = parts.map((part, index) => {
    const items = results[index]?.data?.distribution.items ?? [];
    const count = (label: string) => items.find((item) => item.label === label)?.count ?? 0;
    return {
      label: part.label,
      positive: count("positive"),
      neutral: count("neutral"),
      negative: count("negative"),
    };
  });
  return <SentimentTrendChart buckets={data} title="Sentiment over time" />;
}
