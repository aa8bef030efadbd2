"""Redact personal data and secrets from ticket text before it leaves for an LLM.

`redact(text)` replaces each detected value with a typed, numbered placeholder such as
`[EMAIL_1]` or `[CARD_2]`. Numbering follows the order of first appearance per type, and the
same value (after normalisation: case, separators) always gets the same placeholder.

Detectors run on the original text and report spans; overlaps are resolved by priority
(secrets first, street addresses last), then the text is rebuilt in one pass. Validators cut
false positives: Luhn for cards, mod-97 for IBANs, SSN range rules, octet/group checks for
IP addresses, digit counts and context words for phone numbers.

Speed: the expensive patterns only run inside small windows (around "@", around keywords,
around runs of digits), so a 5 KB ticket takes well under a millisecond.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from app.analysis.pii_scan import Scan, Span, finditer_in, merge_windows

__all__ = ["PII_KINDS", "Redaction", "redact", "redact_many"]

PII_KINDS: tuple[str, ...] = ("secret", "email", "iban", "card", "ssn", "ip", "phone", "address")


@dataclass(frozen=True)
class Redaction:
    """Redacted text and how many occurrences of each kind were replaced (non-zero kinds only)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


_Finder = Callable[[Scan], Iterator[Span]]

# --- secrets -----------------------------------------------------------------------------------

_TOKEN_PREFIXES = (
    "sk-", "sk_", "rk_", "pk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    "AKIA", "ASIA", "xox", "AIza", "glpat-", "eyJ",
)  # fmt: skip
_TOKEN_RE = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}"
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r")(?![\w-])",
    re.ASCII,
)
_SECRET_WORDS = ("key", "token", "secret", "bearer")
_KEYWORD_SECRET_RE = re.compile(
    r"(?i)\b(?:api[ _-]?key|access[ _-]?key|secret(?:[ _-]?key)?|client[ _-]?secret|token|bearer)"
    r"\b(?:\s+is)?\s*[:=]?\s*[\"']?([A-Za-z0-9_\-./+=]{16,512})",
    re.ASCII,
)
_PASSWORD_WORDS = ("pass", "pwd")
_PASSWORD_RE = re.compile(
    r"(?i)\b(?:password|passwd|passcode|pwd)\b(?:\s+is\s*:?|\s*[:=])\s*"
    r"(?:\"([^\"\n]{1,100})\"|'([^'\n]{1,100})'|([^\s\"'<>]{1,100}))",
    re.ASCII,
)
# Words that follow "password is" in ordinary sentences ("my password is not working").
_PASSWORD_STOPWORDS_TEXT = (
    "not incorrect wrong invalid expired correct too still being the a an my your required "
    "reset missing empty blank case-sensitive rejected accepted unknown forgotten lost no "
    "now changed locked set saved stored weak strong long short fine ok okay working broken "
    "that this it"
)
_PASSWORD_STOPWORDS = frozenset(_PASSWORD_STOPWORDS_TEXT.split())


def _entropy_bits_per_char(value: str) -> float:
    counts = Counter(value)
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def _looks_random(value: str) -> bool:
    """Key-like: letters and digits mixed with some entropy, or very high entropy alone."""
    entropy = _entropy_bits_per_char(value)
    has_digit = any(char.isdigit() for char in value)
    has_alpha = any(char.isalpha() for char in value)
    return (has_digit and has_alpha and entropy >= 3.0) or entropy >= 3.8


def _find_secrets(scan: Scan) -> Iterator[Span]:
    text = scan.text
    if any(prefix in text for prefix in _TOKEN_PREFIXES):
        for match in _TOKEN_RE.finditer(text):
            yield Span(match.start(), match.end(), "secret", match.group())
    for match in finditer_in(
        _KEYWORD_SECRET_RE, text, scan.keyword_windows(_SECRET_WORDS, 16, 560)
    ):
        value = match.group(1).rstrip(".,;")
        if _looks_random(value):
            start = match.start(1)
            yield Span(start, start + len(value), "secret", value)
    for match in finditer_in(_PASSWORD_RE, text, scan.keyword_windows(_PASSWORD_WORDS, 2, 130)):
        group = next(index for index in (1, 2, 3) if match.group(index) is not None)
        value = match.group(group)
        if group == 3:
            value = value.rstrip(".,;:)!?")
        if not value or value.lower() in _PASSWORD_STOPWORDS:
            continue
        start = match.start(group)
        yield Span(start, start + len(value), "secret", value)


# --- e-mail ------------------------------------------------------------------------------------

_EMAIL_LOCAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
)
_EMAIL_DOMAIN_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])",
    re.ASCII,
)


def _find_emails(scan: Scan) -> Iterator[Span]:
    """Anchor on each "@": walk back over the local part, match the domain forwards."""
    text = scan.text
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        fits = start == 0 or text[start - 1] not in _EMAIL_LOCAL_CHARS
        while start < at and not text[start].isalnum():
            start += 1
        domain = _EMAIL_DOMAIN_RE.match(text, at + 1)
        if fits and start < at and domain is not None:
            yield Span(start, domain.end(), "email", text[start : domain.end()].lower())
        at = text.find("@", at + 1)


# --- IBAN --------------------------------------------------------------------------------------

_IBAN_RE = re.compile(
    r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d\d(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])", re.ASCII
)
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}  # fmt: skip


def _iban_valid(compact: str) -> bool:
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def _find_ibans(scan: Scan) -> Iterator[Span]:
    for match in _IBAN_RE.finditer(scan.text):
        candidate = match.group()
        # The greedy match may swallow a following word: take the longest valid prefix.
        cut_points = [index for index, char in enumerate(candidate) if char == " "]
        for end in reversed([*cut_points, len(candidate)]):
            compact = candidate[:end].replace(" ", "")
            if _iban_valid(compact):
                yield Span(match.start(), match.start() + end, "iban", compact)
                break


# --- numbers: payment cards, SSNs, IPv4, phone numbers ------------------------------------------

_CARD_RE = re.compile(r"\d(?<![\d+]\d)(?<!\d[ -]\d)(?:[ -]?\d){12,18}(?![ -]?\d)", re.ASCII)
_SSN_RE = re.compile(r"\d(?<![\w-]\d)\d\d-\d\d-\d{4}(?![\w-])", re.ASCII)
_SSN_WORDS = ("ssn", "social security")
_SSN_KEYWORD_RE = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\s*[:#]?\s*(\d{9})\b",
    re.ASCII,
)
_IPV4_RE = re.compile(r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?!\.?\d|\w)", re.ASCII)
_VERSION_CONTEXT_RE = re.compile(r"(?i)(?<![a-z])(?:version|ver\.?|build|release|v)\s*$")
_PHONE_RE = re.compile(
    r"(?:"
    # International: +CC, optional (area), groups.
    r"(?P<intl>\+(?<![\w+]\+)\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,6})"
    # North American: (415) 555-2671, 415-555-2671, 1 415 555 2671.
    r"|(?P<us>(?<![\w+.(-])(?:1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4})"
    # European national format with a trunk 0 and at least one separator: 030 1234567.
    r"|(?P<trunk>0(?<![\w.,/+-]0)(?<!\d 0)[1-9]\d{0,3}(?:[ .-]\d{2,8}){1,4}(?! \d))"
    r")(?![\w/-]|[.,]\d)",
    re.ASCII,
)
_PHONE_WORDS = ("phone", "tel", "mobile", "cell", "fax", "whatsapp", "call me", "reach me")
_PHONE_KEYWORD_RE = re.compile(
    r"(?i)\b(?:phone|telephone|tel|mobile|cell|fax|whatsapp|call me(?: at| on)?|reach me at)\b"
    r"\.?(?:\s*(?:number|no\.?|#))?(?:\s*is)?\s*[:#-]?\s*(\+?\d[\d ().-]{5,20}\d)",
    re.ASCII,
)
_NOT_PHONE_CONTEXT_RE = re.compile(
    r"(?i)(?:order|invoice|inv|ticket|case|ref(?:erence)?|account|acct|tracking|po|sku"
    r"|transaction|id|no\.?|number|#)\s*[:#.]?\s*$"
)


def _digits(value: str) -> str:
    return "".join(filter(str.isdigit, value))


def _phone_key(value: str) -> str:
    return ("+" if value.lstrip().startswith("+") else "") + _digits(value)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _find_cards(scan: Scan) -> Iterator[Span]:
    for match in finditer_in(_CARD_RE, scan.text, scan.number_windows(13)):
        digits = _digits(match.group())
        if len(set(digits)) > 1 and _luhn_valid(digits):
            yield Span(match.start(), match.end(), "card", digits)


def _ssn_valid(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _find_ssns(scan: Scan) -> Iterator[Span]:
    text = scan.text
    for match in finditer_in(_SSN_RE, text, scan.number_windows(9)):
        digits = _digits(match.group())
        if _ssn_valid(digits):
            yield Span(match.start(), match.end(), "ssn", digits)
    for match in finditer_in(_SSN_KEYWORD_RE, text, scan.keyword_windows(_SSN_WORDS, 2, 40)):
        if _ssn_valid(match.group(1)):
            yield Span(match.start(1), match.end(1), "ssn", match.group(1))


_IPV6_RE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])", re.ASCII)
_HEX_OR_COLON = frozenset("0123456789abcdefABCDEF:")


def _ipv6_windows(text: str) -> list[range]:
    spans: list[tuple[int, int]] = []
    colon = text.find(":")
    while colon != -1:
        before = text[colon - 1] if colon else ""
        after = text[colon + 1] if colon + 1 < len(text) else ""
        if before in _HEX_OR_COLON and after in _HEX_OR_COLON:
            spans.append((max(0, colon - 40), colon + 42))
        colon = text.find(":", colon + 1)
    return merge_windows(spans, len(text))


def _find_ips(scan: Scan) -> Iterator[Span]:
    text = scan.text
    for match in finditer_in(_IPV6_RE, text, _ipv6_windows(text)):
        candidate = match.group()
        if sum(char in "0123456789abcdefABCDEF" for char in candidate) < 2:
            continue
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield Span(match.start(), match.end(), "ip", address.compressed)
    for match in finditer_in(_IPV4_RE, text, scan.number_windows(4, min_dots=3)):
        octets = match.group().split(".")
        if any(int(octet) > 255 for octet in octets):
            continue
        if _VERSION_CONTEXT_RE.search(text, max(0, match.start() - 12), match.start()):
            continue
        yield Span(match.start(), match.end(), "ip", ".".join(str(int(o)) for o in octets))


def _find_phones(scan: Scan) -> Iterator[Span]:
    text = scan.text
    for match in finditer_in(_PHONE_RE, text, scan.number_windows(7)):
        digit_count = len(_digits(match.group()))
        if match.lastgroup == "intl" and not 8 <= digit_count <= 15:
            continue
        if match.lastgroup == "trunk":
            if not 9 <= digit_count <= 12:
                continue
            if _NOT_PHONE_CONTEXT_RE.search(text, max(0, match.start() - 20), match.start()):
                continue
        yield Span(match.start(), match.end(), "phone", _phone_key(match.group()))
    for match in finditer_in(_PHONE_KEYWORD_RE, text, scan.keyword_windows(_PHONE_WORDS, 2, 80)):
        if 7 <= len(_digits(match.group(1))) <= 15:
            yield Span(match.start(1), match.end(1), "phone", _phone_key(match.group(1)))


# --- street addresses --------------------------------------------------------------------------

_STREET_SUFFIXES = (
    "street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive",
    "dr", "court", "ct", "place", "pl", "terrace", "ter", "parkway", "pkwy", "highway", "hwy",
    "circle", "cir", "square", "sq", "way", "alley", "crescent", "close", "row", "plaza",
    "trail", "trl",
)  # fmt: skip
_STREET_SUFFIX = "(?:" + "|".join(_STREET_SUFFIXES) + ")"
_STREET_SUFFIX_LOWER_RE = re.compile(" " + _STREET_SUFFIX + "(?![a-z])")
_ADDRESS_RE = re.compile(
    r"\d(?<![\w#/.-]\d)\d{0,5}[A-Za-z]?,?\s+"
    r"(?:(?:[NSEW]|North|South|East|West)\.?\s+)?"
    r"(?:(?:[A-Z][A-Za-z'-]*|\d{1,3}(?:st|nd|rd|th))\s+){1,4}"
    rf"(?i:{_STREET_SUFFIX})\b\.?(?:\s+(?:NW|NE|SW|SE)\b)?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|#)\.?\s*#?[A-Za-z0-9-]{1,6}\b)?",
    re.ASCII,
)
_ADDRESS_DE_WORDS = ("straße", "strasse", "str.", "weg ", "allee", "platz", "gasse", "damm")
_ADDRESS_DE_RE = re.compile(
    r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|allee|platz|gasse|damm)\s+\d{1,4}[a-z]?\b"
)


def _street_windows(scan: Scan) -> list[range]:
    """Windows ending just after each whole-word street suffix (" St", " Avenue", ...)."""
    if scan.lowered is None:
        return [range(0, len(scan.text))]
    spans = [
        (max(0, match.start() - 80), match.end() + 40)
        for match in _STREET_SUFFIX_LOWER_RE.finditer(scan.lowered)
    ]
    return merge_windows(spans, len(scan.text))


def _find_addresses(scan: Scan) -> Iterator[Span]:
    text = scan.text
    for match in finditer_in(_ADDRESS_RE, text, _street_windows(scan)):
        value = match.group().rstrip(".")
        key = " ".join(value.lower().split())
        yield Span(match.start(), match.start() + len(value), "address", key)
    for match in finditer_in(_ADDRESS_DE_RE, text, scan.keyword_windows(_ADDRESS_DE_WORDS, 40, 12)):
        key = " ".join(match.group().lower().split())
        yield Span(match.start(), match.end(), "address", key)


# Priority order: earlier finders win overlapping spans.
_FINDERS: tuple[_Finder, ...] = (
    _find_secrets,
    _find_emails,
    _find_ibans,
    _find_cards,
    _find_ssns,
    _find_ips,
    _find_phones,
    _find_addresses,
)


def _spans(text: str) -> list[Span]:
    """Accepted spans, left to right; earlier finders win overlaps."""
    scan = Scan(text)
    taken = bytearray(len(text))
    accepted: list[Span] = []
    for finder in _FINDERS:
        for span in finder(scan):
            if span.end <= span.start or any(taken[span.start : span.end]):
                continue
            taken[span.start : span.end] = b"\x01" * (span.end - span.start)
            accepted.append(span)
    accepted.sort(key=lambda span: span.start)
    return accepted


class _Numbering:
    """Placeholder numbers shared by every text redacted with the same instance."""

    def __init__(self) -> None:
        self.placeholders: dict[tuple[str, str], str] = {}
        self.next_number: Counter[str] = Counter()

    def placeholder(self, span: Span) -> str:
        placeholder = self.placeholders.get((span.kind, span.key))
        if placeholder is None:
            self.next_number[span.kind] += 1
            placeholder = f"[{span.kind.upper()}_{self.next_number[span.kind]}]"
            self.placeholders[(span.kind, span.key)] = placeholder
        return placeholder

    def apply(self, text: str) -> Redaction:
        accepted = _spans(text)
        if not accepted:
            return Redaction(text=text, counts={})
        counts: Counter[str] = Counter()
        pieces: list[str] = []
        cursor = 0
        for span in accepted:
            counts[span.kind] += 1
            pieces.append(text[cursor : span.start])
            pieces.append(self.placeholder(span))
            cursor = span.end
        pieces.append(text[cursor:])
        ordered_counts = {kind: counts[kind] for kind in PII_KINDS if counts[kind]}
        return Redaction(text="".join(pieces), counts=ordered_counts)


def redact(text: str) -> Redaction:
    """Replace PII and secrets in `text` with numbered placeholders; pure and deterministic."""
    return _Numbering().apply(text)


def redact_many(texts: Iterable[str]) -> list[Redaction]:
    """Redact related texts (a subject and a body) with one numbering: the same value gets
    the same placeholder in all of them, different values never share one."""
    numbering = _Numbering()
    return [numbering.apply(text) for text in texts]
