import { lazy, Suspense, type ComponentProps } from "react";
import { Loading } from "./Status";

const charts = () => import("./charts");
/** Start loading the chart library while the data is still on its way. */
export const preloadCharts = () => void charts();
const Pie = lazy(() => charts().then((m) => ({ default: m.DistributionPie })));
const Bars = lazy(() => charts().then((m) => ({ default: m.DistributionBars })));
const Volume = lazy(() => charts().then((m) => ({ default: m.VolumeChart })));
const CostTime = lazy(() => charts().then((m) => ({ default: m.CostTimeChart })));

type ChartsModule = typeof import("./charts");

function withSuspense<P extends object>(Component: React.ComponentType<P>) {
  return function Chart(props: P) {
    return (
      <Suspense fallback={<Loading label="Drawing chart…" />}>
        <Component {...props} />
      </Suspense>
    );
  };
}

export const DistributionPie = withSuspense<ComponentProps<ChartsModule["DistributionPie"]>>(Pie);
export const DistributionBars =
  withSuspense<ComponentProps<ChartsModule["DistributionBars"]>>(Bars);
export const VolumeChart = withSuspense<ComponentProps<ChartsModule["VolumeChart"]>>(Volume);
export const CostTimeChart = withSuspense<ComponentProps<ChartsModule["CostTimeChart"]>>(CostTime);
const SentimentTrend = lazy(() => charts().then((m) => ({ default: m.SentimentTrendChart })));
export const SentimentTrendChart =
  withSuspense<ComponentProps<ChartsModule["SentimentTrendChart"]>>(SentimentTrend);
