"""Label enums shared by the models, the API schemas and the LLM output schema."""

from enum import StrEnum


class Category(StrEnum):
    bug = "bug"
    feature = "feature"
    billing = "billing"
    support = "support"
    other = "other"


class Urgency(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Sentiment(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


class UserRole(StrEnum):
    """What an account may do: `admin` also manages every account (`/admin`)."""

    user = "user"
    admin = "admin"


class AnalysisSource(StrEnum):
    """Which path produced an analysis."""

    llm = "llm"
    local = "local"
    fallback = "fallback"
    batch = "batch"


class JobState(StrEnum):
    """A batch job: queued → running → one of the final states."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    partially_failed = "partially_failed"
    failed = "failed"


class BackfillState(StrEnum):
    """A backfill: queued → searching (Zendesk) → running (its batch jobs) → a final state."""

    queued = "queued"
    searching = "searching"
    running = "running"
    succeeded = "succeeded"
    partially_failed = "partially_failed"
    failed = "failed"


class ItemStatus(StrEnum):
    """A ticket in a batch job: pending → analyzed → writing → done, or failed."""

    pending = "pending"
    analyzed = "analyzed"
    writing = "writing"
    done = "done"
    failed = "failed"


class WriteBack(StrEnum):
    """What writing tags and the note back to Zendesk did for one ticket."""

    written = "written"
    unchanged = "unchanged"  # everything was already there
    skipped = "skipped"  # a closed ticket cannot be updated
    disabled = "disabled"  # tags and note are both off in the settings
    failed = "failed"


class DeliveryStatus(StrEnum):
    """A webhook delivery's outcome."""

    queued = "queued"
    duplicate = "duplicate"
    ignored = "ignored"


class JobOrigin(StrEnum):
    api = "api"
    webhook = "webhook"
    poll = "poll"


class TrainingOrigin(StrEnum):
    """Where a training row's labels came from."""

    feedback = "feedback"
    llm = "llm"


class StepStatus(StrEnum):
    """How one processing step (fetch, store, analyze, save, write_back) ended."""

    ok = "ok"
    error = "error"
    fallback = "fallback"  # the LLM failed: the offline model answered
    skipped = "skipped"  # write-back: unchanged, closed ticket or disabled


class LLMBatchState(StrEnum):
    """Ours, not OpenAI's status: submitted → applied, or failed."""

    submitted = "submitted"
    applied = "applied"
    failed = "failed"


class LLMRequestState(StrEnum):
    submitted = "submitted"
    applied = "applied"
    failed = "failed"
    superseded = "superseded"


class AnalysisRoute(StrEnum):
    """Which way an analysis went (decision_reason says why, for people)."""

    no_llm = "no_llm"  # no LLM configured: the offline model answers
    mode_local = "mode_local"  # the settings say local
    confident = "confident"  # the cascade's offline answer was confident enough
    llm = "llm"
    llm_fallback = "llm_fallback"  # the LLM failed: the offline model answered
    batch_pending = "batch_pending"  # provisional offline answer, LLM due from the Batch API
    batch = "batch"  # answered by the Batch API
    batch_failed = "batch_failed"  # the Batch API did not answer: the offline answer stays
