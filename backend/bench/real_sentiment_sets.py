"""Real, human-rated sentiment sets for the accuracy and learning-curve benches.

    cd backend && python bench/real_sentiment_sets.py --out-dir /tmp/real-sets [--sdist PATH]

The VADER paper's ground truth (Hutto & Gilbert, ICWSM 2014) ships inside the vaderSentiment
source distribution on PyPI (MIT licence): 4,200 tweets and 3,708 sentences of Amazon product
reviews, each with the mean of about 20 people's ratings from -4 (extremely negative) to +4
(extremely positive). This project never trained on them. The script downloads that sdist with
pip (or reads `--sdist`), and writes CSVs with the columns subject (empty: these are single
messages), body and sentiment, where a mean rating of at least +1 is positive, at most -1
negative, anything between neutral. The ±1 cut ("slightly" on the raters' scale) was fixed
before any model was scored on the sets.

Files written:
- `tweets.csv`, `amazon.csv`: every row, in the paper's order;
- `movies.csv` (10,605 sentences of movie reviews), `nyt.csv` (5,190 sentences of New York Times
  opinion pieces): every row; other domains than support text, used to choose the sentiment
  thresholds across domains (see the README's accuracy section), never reported as held-out;
- `amazon_train.csv`, `amazon_test.csv`: the Amazon sentences split by review (a review's
  sentences stay together; one review in five, by a stable hash of its id, goes to the test
  file), training rows in the paper's order, for `bench/learning_curve.py`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

SDIST = "vaderSentiment==3.3.2"
INNER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
SETS = {
    "tweets": "tweets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
POLAR_CUT = 1.0
"""Mean rating at or beyond which a message is positive (or negative)."""
TEST_EVERY = 5
"""One review in this many goes to the test split."""
FIELDS = ("subject", "body", "sentiment")


def label(mean_rating: float) -> str:
    if mean_rating >= POLAR_CUT:
        return "positive"
    if mean_rating <= -POLAR_CUT:
        return "negative"
    return "neutral"


def download_sdist(into: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--no-binary", ":all:", "--dest", str(into), SDIST], check=True)
    (sdist,) = into.glob("vaderSentiment-*.tar.gz")
    return sdist


def ground_truth_files(sdist: Path, workdir: Path) -> dict[str, Path]:
    """Extract the paper's ground-truth files from the sdist (an archive inside an archive)."""
    with tarfile.open(sdist) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith(INNER_ARCHIVE))
        inner_path = workdir / "ground_truth.tar.gz"
        inner_path.write_bytes(outer.extractfile(member).read())  # type: ignore[union-attr]
    found: dict[str, Path] = {}
    with tarfile.open(inner_path) as inner:
        for name, filename in SETS.items():
            member = next(m for m in inner.getmembers() if m.name.endswith("/" + filename))
            target = workdir / filename
            target.write_bytes(inner.extractfile(member).read())  # type: ignore[union-attr]
            found[name] = target
    return found


def read_ground_truth(path: Path) -> Iterator[tuple[str, str, str]]:
    """(id, text, sentiment) per line: `id<TAB>mean rating<TAB>text`."""
    for line in path.read_text(encoding="latin-1").splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[2].strip():
            yield parts[0], parts[2].strip(), label(float(parts[1]))


def in_test_split(review_id: str) -> bool:
    digest = hashlib.sha256(review_id.encode()).digest()
    return digest[0] % TEST_EVERY == 0


def write_csv(path: Path, rows: Sequence[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(("", body, sentiment) for body, sentiment in rows)
    print(f"wrote={path} rows={len(rows)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--sdist", type=Path, help=f"a downloaded {SDIST} sdist (.tar.gz)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sdist = args.sdist or download_sdist(workdir)
        files = ground_truth_files(sdist, workdir)
        for name, path in files.items():
            rows = list(read_ground_truth(path))
            write_csv(args.out_dir / f"{name}.csv", [(text, s) for _, text, s in rows])
            if name == "amazon":
                train = [(t, s) for rid, t, s in rows if not in_test_split(rid.split("_")[0])]
                test = [(t, s) for rid, t, s in rows if in_test_split(rid.split("_")[0])]
                write_csv(args.out_dir / "amazon_train.csv", train)
                write_csv(args.out_dir / "amazon_test.csv", test)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
