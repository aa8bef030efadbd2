import type { Job } from "../queries";
import { isActive } from "../queries";
import { titleCase } from "../format";

export function JobProgressBar({ job }: { job: Job }) {
  const { done, failed, total } = job.progress;
  const finished = done + failed;
  return (
    <div className="job-progress">
      <div className="row-between">
        <span>
          Job <code>{job.id.slice(0, 8)}</code>: <strong>{titleCase(job.state)}</strong>
        </span>
        <span className="muted small">
          {done} done · {failed} failed · {total} total
        </span>
      </div>
      <progress
        max={Math.max(total, 1)}
        value={finished}
        aria-label={`Job ${job.id.slice(0, 8)} progress`}
        aria-valuetext={`${finished} of ${total} tickets, ${job.state}`}
      />
      <span className="visually-hidden" role="status" aria-live="polite">
        {isActive(job.state) ? `${finished} of ${total} processed` : `Job ${job.state}`}
      </span>
      {job.error && <p className="alert alert-error">{job.error}</p>}
    </div>
  );
}
