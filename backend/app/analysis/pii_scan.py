"""The scanning helpers the PII detectors share: spans, lazily built windows, merging."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    kind: str
    key: str


# Runs of digits and separators, at least four characters long, starting and ending in a digit.
_NUMERIC_CHUNK_RE = re.compile(r"\d[\d .()/+-]{2,}\d", re.ASCII)
_DROP_SEPARATORS = str.maketrans("", "", " .()/+-")


class Scan:
    """The text plus lazily computed helpers shared by the detectors."""

    def __init__(self, text: str) -> None:
        self.text = text
        lowered = text.lower()
        # Some characters change length when lower-cased; then indices would not line up.
        self.lowered: str | None = lowered if len(lowered) == len(text) else None
        self._number_windows: dict[tuple[int, int], list[range]] = {}

    def has_any(self, words: Iterable[str]) -> bool:
        haystack = self.lowered if self.lowered is not None else self.text.lower()
        return any(word in haystack for word in words)

    def keyword_windows(self, words: Iterable[str], before: int, after: int) -> list[range]:
        """Merged windows around each occurrence of the (lower-case) words."""
        if self.lowered is None:
            return [range(0, len(self.text))] if self.has_any(words) else []
        spans: list[tuple[int, int]] = []
        for word in words:
            position = self.lowered.find(word)
            while position != -1:
                spans.append((max(0, position - before), position + len(word) + after))
                position = self.lowered.find(word, position + 1)
        return merge_windows(spans, len(self.text))

    @cached_property
    def numeric_chunks(self) -> list[tuple[int, int, int, int]]:
        """(start, end, digits, dots) of runs of digits and phone/card separators."""
        chunks = []
        for match in _NUMERIC_CHUNK_RE.finditer(self.text):
            value = match.group()
            digits = len(value.translate(_DROP_SEPARATORS))
            if digits >= 4:
                chunks.append((match.start(), match.end(), digits, value.count(".")))
        return chunks

    def number_windows(self, min_digits: int, min_dots: int = 0) -> list[range]:
        """Windows around digit runs: one character of slack before ("(", "+"), three after
        (for the lookaheads)."""
        key = (min_digits, min_dots)
        windows = self._number_windows.get(key)
        if windows is None:
            spans = [
                (max(0, start - 1), end + 3)
                for start, end, digits, dots in self.numeric_chunks
                if digits >= min_digits and dots >= min_dots
            ]
            windows = self._number_windows[key] = merge_windows(spans, len(self.text))
        return windows


def merge_windows(spans: list[tuple[int, int]], limit: int) -> list[range]:
    """Sorted windows with overlapping neighbours joined, clipped to `limit`."""
    merged: list[range] = []
    for start, end in sorted(spans):
        end = min(end, limit)
        if merged and start <= merged[-1].stop:
            if end > merged[-1].stop:
                merged[-1] = range(merged[-1].start, end)
        else:
            merged.append(range(start, end))
    return merged


def finditer_in(
    pattern: re.Pattern[str], text: str, windows: Iterable[range]
) -> Iterator[re.Match[str]]:
    for window in windows:
        yield from pattern.finditer(text, window.start, window.stop)
