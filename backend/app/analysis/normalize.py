"""What a support queue really receives, reduced to what the ticket says.

E-mails carry quoted replies and signatures, GitHub issues carry markdown, issue-template
headings, code blocks, stack traces and logs, forum posts carry links. The models and rules
read the author's own words: quoted text and signatures are cut, code, traces and logs become
one marker word each (``codeblock``, ``stacktrace``, ``logline``) plus the exception's name,
markdown keeps its text, and template headings become the plain words a ticket would use
("bug report", "feature request") instead of boilerplate shared by every issue.
"""

from __future__ import annotations

import re

_REPLY_HEADER_RE = re.compile(
    r"^(?:on\s.{3,200}?\swrote:|am\s.{3,200}?\sschrieb.{0,80}:|le\s.{3,200}?\sa\sécrit\s?:"
    r"|el\s.{3,200}?\sescribió:|em\s.{3,200}?\sescreveu:"
    r"|-{2,}\s*(?:original message|ursprüngliche nachricht|forwarded message|mensaje original"
    r"|message d'origine|mensagem original)\s*-{2,}"
    r"|from:\s.{1,200}\n(?:sent|date|to|subject):.*)",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE_RE = re.compile(
    r"^(?:--|__|-- )\s*$|^sent from my \w+|^get outlook for|^von meinem \w+ gesendet"
    r"|^enviado desde mi|^envoyé de mon",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED_LINE_RE = re.compile(r"^[ \t]*>.*$", re.MULTILINE)
_HTML_COMMENT_RE = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_FENCED_CODE_RE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.S | re.M)
_PY_TRACEBACK_RE = re.compile(
    r"traceback \(most recent call last\):\n(?:[ \t]+.*\n?)*(?P<error>[\w.]+(?:error|exception"
    r"|warning|exit|interrupt)\b)?",
    re.IGNORECASE,
)
_FRAME_LINE_RE = re.compile(
    r"^[ \t]*(?:at [\w.$<>/]+\(.*\)|at .+:\d+:\d+\)?|file \".+\", line \d+.*"
    r"|#\d+ +0x[0-9a-f]+ .*|\.\.\. \d+ more)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_EXCEPTION_NAME_RE = re.compile(r"\b(?:[a-z]+\.)*([A-Z]\w*(?:Error|Exception))\b")
_LOG_LINE_RE = re.compile(
    r"^[ \t]*\[?(?:\d{4}-\d\d-\d\d[ t]\d\d:\d\d(?::\d\d)?\S*|\d\d:\d\d:\d\d(?:[.,]\d+)?)\]?"
    r"[ \t]*(?:\[?(?P<level>error|err|fatal|critical|warn|warning|info|debug|trace)\]?)?.*$",
    re.IGNORECASE | re.MULTILINE,
)
_TEMPLATE_HEADINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"^[ \t#*_]*(?:{pattern})[ \t:*_]*$", re.IGNORECASE | re.MULTILINE), words)
    for pattern, words in (
        (r"describe the bug|bug description|bug report|what happened\??", "bug report:"),
        (r"(?:steps|how) to reproduce|to reproduce|reproduction steps|repro steps", "steps:"),
        (r"expected (?:behaviou?r|result)s?|actual (?:behaviou?r|result)s?", ""),
        (r"is your feature request related to a problem\??(?: please describe\.?)?", "feature:"),
        (r"describe the solution you'?d like|proposed solution|feature description", "feature:"),
        (r"describe alternatives you'?ve considered|alternatives considered", ""),
        (
            r"additional (?:context|information)|environment|screenshots|logs?|version"
            r"|desktop \(please complete the following information\)|checklist",
            "",
        ),
    )
)
_MD_IMAGE_RE = re.compile(r"!\[[^\]]{0,200}\]\([^)]{0,500}\)")
_MD_LINK_RE = re.compile(r"\[([^\]]{1,200})\]\([^)]{0,500}\)")
_MD_HEADING_RE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.MULTILINE)
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|~~)(.+?)\1")
_MD_BULLET_RE = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)]|- \[[ xX]\])[ \t]+", re.MULTILINE)
_MD_TABLE_RULE_RE = re.compile(r"^[ \t|:-]{3,}$", re.MULTILINE)
_INLINE_CODE_RE = re.compile(r"`([^`\n]{1,200})`")
_URL_RE = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_CLOSING_RE = re.compile(
    r"^[ \t]*(?:(?:best|kind|warm|warmest)(?: regards| wishes)?|regards|many thanks"
    r"|thanks(?: in advance| again| a lot)?|thank you(?: in advance| again)?|cheers|sincerely"
    r"|yours(?: truly| sincerely)?|mit freundlichen grüßen|viele grüße|beste grüße|saludos"
    r"|un saludo|atentamente|cordialement|bien à vous|atenciosamente|abraços|obrigad[oa])"
    r"[ \t]*[,.!]?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_BLANK_LINES_RE = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
MAX_SIGNATURE_LINES = 6


def strip_quoted(body: str) -> str:
    """The author's own message: cut at a reply header, drop '>' lines, cut the signature."""
    header = _REPLY_HEADER_RE.search(body)
    if header is not None and body[: header.start()].strip():
        body = body[: header.start()]
    body = _QUOTED_LINE_RE.sub("", body)
    signature = _SIGNATURE_RE.search(body)
    if signature is not None and body[: signature.start()].strip():
        body = body[: signature.start()]
    closings = list(_CLOSING_RE.finditer(body))
    if closings:
        closing = closings[-1]
        tail_lines = body[closing.end() :].strip().count("\n") + 1
        if tail_lines <= MAX_SIGNATURE_LINES and body[: closing.start()].strip():
            body = body[: closing.start()]
    return body


def _traceback(match: re.Match[str]) -> str:
    error = match.group("error")
    return f" stacktrace {error} " if error else " stacktrace "


def _code_block(match: re.Match[str]) -> str:
    exception = _EXCEPTION_NAME_RE.search(match.group(0))
    return f"\ncodeblock {exception.group(1)}\n" if exception else "\ncodeblock\n"


def _log_line(match: re.Match[str]) -> str:
    level = (match.group("level") or "").lower()
    if level in {"error", "err", "fatal", "critical"}:
        return "logline error"
    return "logline warning" if level.startswith("warn") else "logline"


def _collapse_repeats(text: str, word: str) -> str:
    return re.sub(rf"(?:\b{word}\b[^\n]*\n?){{2,}}", f"{word}\n", text)


def strip_markup(body: str) -> str:
    """Markdown to its text; code, traces and logs to marker words; template headings to words."""
    body = _HTML_COMMENT_RE.sub(" ", body)
    body = _FENCED_CODE_RE.sub(_code_block, body)
    body = _PY_TRACEBACK_RE.sub(_traceback, body)
    if _FRAME_LINE_RE.search(body):
        body = _FRAME_LINE_RE.sub("stacktrace", body)
        body = _collapse_repeats(body, "stacktrace")
    if _LOG_LINE_RE.search(body):
        body = _LOG_LINE_RE.sub(_log_line, body)
        body = _collapse_repeats(body, "logline error")
        body = _collapse_repeats(body, "logline")
    for pattern, words in _TEMPLATE_HEADINGS:
        body = pattern.sub(words, body)
    body = _MD_IMAGE_RE.sub(" ", body)
    body = _MD_LINK_RE.sub(r"\1", body)
    body = _URL_RE.sub(" url ", body)
    body = _MD_HEADING_RE.sub("", body)
    body = _MD_EMPHASIS_RE.sub(r"\2", body)
    body = _MD_BULLET_RE.sub("", body)
    body = _MD_TABLE_RULE_RE.sub("", body)
    body = _INLINE_CODE_RE.sub(r"\1", body)
    return _BLANK_LINES_RE.sub("\n\n", body).strip()


def normalize_body(body: str) -> str:
    """The body as the models and rules read it (input already cleaned by `clean_text`)."""
    if not body:
        return ""
    return strip_markup(strip_quoted(body))
