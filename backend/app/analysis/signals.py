"""Explicit signals read by rules: urgency cues and topic tags."""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_TAGS = 5

# --- explicit urgency signals --------------------------------------------------------------
_NEGATED_URGENCY_RE = re.compile(
    r"\b(?:not|isn't|is not|wasn't|no|nothing|non)[- ]"
    r"(?:very |really |that |particularly |too |super |an? )?"
    r"(?:urgent|urgently|critical|emergency|urgency|rush|hurry|deadline)\b|\bno (?:rush|hurry)\b"
    r"|\b(?:for|in) (?:urgent|emergency) (?:matters|issues|requests|cases|inquiries|questions)\b"
)
_PREVENTIVE_CONTEXT_RE = re.compile(
    r"\b(?:prevent(?:s|ed|ing)?|avoid(?:s|ed|ing)?|against|prevention|protect(?:s|ion|ing)?"
    r"|risks? of|in case of|in the event of|minimi[sz]e|reduce|schedule[ds]?|planned"
    r"|detect(?:ing)?|policy|policies|how (?:do|does|would|can|could))\b[^.!?\n]{0,60}$"
)
URGENCY_RULES: dict[str, re.Pattern[str]] = {
    "outage": re.compile(
        r"\b(?:outages?|down for (?:everyone|everybody|all(?: users| of us)?|us all)"
        r"|(?:site|website|service|server|system|app|application|platform|api|everything|portal"
        r"|network|database|dashboard|checkout)s? (?:is|are|was|were|has been|have been|went"
        r"|goes|keeps going) (?:completely |totally |still |all )?down"
        r"|(?:unexpected |unplanned )?downtime|service (?:disruption|interruption|unavailable)"
        r"|(?:service|server|platform|network|site|system) crash(?:ed|es)?"
        r"|not (?:loading|responding|working) for (?:anyone|everyone|all))\b"
    ),
    "security_breach": re.compile(
        r"\b(?:(?:security|data) (?:breach|incident|compromise)(?:es)?"
        r"|(?:been|was|were|got|get|is|are) (?:hacked|compromised|breached)|hacked|hacker"
        r"|unauthori[sz]ed (?:access|logins?|transactions?|charges?|activity)"
        r"|ransomware|malware (?:attack|infection)|account takeover)\b"
    ),
    "data_loss": re.compile(
        r"\b(?:data loss|lost (?:all |some |most )?(?:of )?(?:my |our |the )?"
        r"(?:data|files|records|work|documents|emails|database)"
        r"|(?:data|files?|records?|documents?|emails?|database) (?:(?:was|were|has been"
        r"|have been|got|are|is) )?(?:deleted|lost|wiped|erased|corrupted|disappeared|gone)"
        r"|deleted (?:all|everything)|data (?:corruption|wiped))\b"
    ),
    "login_failure": re.compile(
        r"(?:\b(?:can ?not|can't|can.t|cannot|unable to|couldn't|could not|can no longer"
        r"|not able to|fail(?:ed|ing|s)? to) (?:log ?in(?:to)?|login|sign ?in(?:to)?"
        r"|access (?:my|our|the) (?:account|system|dashboard|email|portal)s?)\b"
        r"|\blocked out\b|\b(?:account|accounts) (?:is |are |was |has been |have been |got )?"
        r"(?:locked|suspended|disabled|blocked)\b"
        r"|\blogin (?:fails|failed|failure|not working|broken)\b"
        r"|\b(?:password reset|2fa|mfa|two[- ]factor) (?:is )?"
        r"(?:not working|fails|failed|broken)\b)"
    ),
    "deadline": re.compile(
        r"\b(?:urgent(?:ly)?|emergency|time[- ]sensitive|deadline"
        r"|immediate (?:attention|assistance|action|help|response|fix)"
        r"|by (?:tomorrow|tonight|today|end of (?:the )?(?:day|week)|eod|cob|noon"
        r"|this (?:afternoon|evening)|monday|tuesday|wednesday|thursday|friday)"
        r"|within (?:the next )?(?:\d+|an?|one|two|few) (?:hours?|minutes?))\b"
    ),
    "legal_threat": re.compile(
        r"\b(?:lawyers?|attorneys?|lawsuits?|legal action|legal proceedings|solicitors?"
        r"|(?:will|going to|gonna) sue|sue (?:you|your)|take (?:you|this|it) to court"
        r"|small claims)\b"
    ),
}
"""Rule name -> pattern on lowercased text; any hit raises urgency to high."""
_PREVENTIVE_RULES = frozenset({"outage", "security_breach", "data_loss"})

URGENCY_RULE_NAMES: tuple[str, ...] = tuple(URGENCY_RULES)

LOW_URGENCY_RULES: dict[str, re.Pattern[str]] = {
    "low_cosmetic": re.compile(
        r"\b(?:cosmetic|typo|misspell\w*|spelling|misaligned|alignment|colou?r of|font|padding"
        r"|wording|tooltip|icon looks|looks (?:a bit )?off)\b"
    ),
    "low_no_rush": re.compile(
        r"\b(?:no (?:rush|hurry)|not urgent|non[- ]urgent|low priority|whenever you (?:can|get)"
        r"|when(?:ever)? you (?:get|have) (?:a|the) (?:chance|moment|minute|time)"
        r"|at your (?:convenience|leisure)|no pressure|not (?:a big deal|blocking)"
        r"|nicht dringend|keine eile|sin prisa|no es urgente|pas urgent|sans urgence"
        r"|não é urgente|sem pressa)\b"
    ),
    "low_question": re.compile(
        r"(?:\b(?:quick|small|general|simple) question|\bquestion (?:about|regarding|on)\b"
        r"|\bjust (?:curious|wondering)|\bout of curiosity|\bfor future reference"
        r"|\bis (?:it|there) (?:possible|a way)|\bhow (?:do|can|does|would|should) (?:i|we|you"
        r"|it|one)\b|\bhow to\b|\bwhere (?:can|do|is|are|should) (?:i|we|my|our|the)\b"
        r"|\bwhat(?:'s| is) the (?:difference|best way)|\bwie (?:kann|können) (?:ich|wir)\b"
        r"|\bcomment (?:puis-je|pouvons-nous|faire)|\bcómo (?:puedo|podemos)\b"
        r"|\bcomo (?:posso|podemos|faço)\b)"
    ),
    "low_minor": re.compile(
        r"\b(?:minor|small|slight|tiny|little) (?:issue|bug|glitch|problem|thing|request"
        r"|suggestion|inconsistenc\w*|detail)|\bminor(?=[,.;:!]| but\b)|\bnice to have\b"
        r"|\bsuggestion\b|\bfeature (?:idea|suggestion)\b"
    ),
}
"""Rule name -> pattern on lowercased text; with no high signal, a hit suggests low urgency."""
LOW_URGENCY_RULE_NAMES: tuple[str, ...] = tuple(LOW_URGENCY_RULES)
RULE_FEATURE_NAMES: tuple[str, ...] = URGENCY_RULE_NAMES + LOW_URGENCY_RULE_NAMES
"""The rule indicators the model is trained on, in this order."""

# --- topic tags ----------------------------------------------------------------------------
_TOPIC_TAGS: dict[str, str] = {
    "refund": r"refund",
    "invoice": r"invoice",
    "payment": r"payment|credit card|debit card|charged|overcharg|paypal",
    "subscription": r"subscription|renewal|upgrade (?:my|our) plan|downgrade",
    "login": r"(?:log ?in|sign ?in|password|2fa|mfa|two[- ]factor|sso)\b",
    "account": r"account settings|delete (?:my|our) account|profile\b",
    "security": r"security|breach|hack|unauthori[sz]ed|malware|encryption",
    "data-privacy": r"(?:gdpr|hipaa|privacy|personal data|compliance)\b",
    "outage": r"outage|downtime|service disruption",
    "performance": r"slow|latency|lag|timeout|performance|freez",
    "crash": r"crash",
    "integration": r"integrat|api\b|webhook|zapier|slack|salesforce|plugin",
    "data-export": r"export|backup|back up|csv|download (?:my|our|the) data",
    "sync": r"sync",
    "email": r"(?:e-?mails?|outlook|inbox|smtp)\b",
    "mobile": r"(?:ios|android|iphone|ipad|mobile app)\b",
    "printer": r"printer",
    "network": r"(?:vpn|wi-?fi|router|firewall|network)\b",
    "hardware": r"(?:laptop|hardware|keyboard|device)\b",
    "feature-request": (
        r"feature request|would (?:like|love) (?:to see|a feature)|please add|add support for"
    ),
    "documentation": r"(?:documentation|docs|tutorial|guide|how to|how do i)\b",
    "return": (
        r"(?:return(?:ing)? (?:the|my|our|an?|this) (?:item|order|product|device|laptop|printer"
        r"|purchase)|exchange (?:the|my|our|an?|this) (?:item|order|product|device)|return label"
        r"|replacement (?:unit|device|product|item)|rma)\b"
    ),
    "shipping": r"(?:shipping|delivery|shipment|tracking number)\b",
    "training": r"(?:training|onboarding)\b",
}
"""Tag -> pattern anchored at a word start, on lowercased text."""
_TOPIC_TAG_BY_GROUP = {tag.replace("-", "_"): tag for tag in _TOPIC_TAGS}
_TOPIC_TAGS_RE = re.compile(
    r"\b(?:"
    + "|".join(f"(?P<{tag.replace('-', '_')}>{pattern})" for tag, pattern in _TOPIC_TAGS.items())
    + ")"
)
"""One alternation behind one word boundary: a single cheap scan instead of one per tag."""


def find_urgency_signals(text: str) -> list[str]:
    """Names of the explicit urgency rules matching a lowercased text, in rule order."""
    text = _NEGATED_URGENCY_RE.sub(" ", text)
    fired: list[str] = []
    for name, pattern in URGENCY_RULES.items():
        for match in pattern.finditer(text):
            if name in _PREVENTIVE_RULES and _PREVENTIVE_CONTEXT_RE.search(
                text, max(0, match.start() - 80), match.start()
            ):
                continue
            fired.append(name)
            break
    return fired


def find_low_urgency_signals(text: str) -> list[str]:
    """Names of the low-urgency rules matching a lowercased text, in rule order."""
    return [name for name, pattern in LOW_URGENCY_RULES.items() if pattern.search(text)]


def find_rule_signals(text: str) -> list[str]:
    """Every rule that fires on a lowercased text: high ones, then low ones."""
    return find_urgency_signals(text) + find_low_urgency_signals(text)


def rule_features(signals: Sequence[str], names: Sequence[str] = RULE_FEATURE_NAMES) -> list[float]:
    """One indicator per rule, in `names` order."""
    return [1.0 if name in signals else 0.0 for name in names]


def suggest_tags(text: str, signals: Sequence[str]) -> list[str]:
    """Lowercase slugs: fired urgency rules first, then topics by first mention."""
    tags = [signal.replace("_", "-") for signal in signals][:MAX_TAGS]
    for match in _TOPIC_TAGS_RE.finditer(text):
        if len(tags) >= MAX_TAGS:
            break
        tag = _TOPIC_TAG_BY_GROUP[match.lastgroup or ""]
        if tag not in tags:
            tags.append(tag)
    return tags


# --- category cues ---------------------------------------------------------------------------
CATEGORY_CUES: dict[str, re.Pattern[str]] = {
    "feature": re.compile(
        r"\b(?:feature request|would (?:be (?:great|nice|helpful|useful)"
        r"|love (?:to see|a|an|it if))"
        r"|it would be (?:great|nice|helpful|useful)|please add|could you (?:please )?add"
        r"|can you add|any plans? to (?:add|support)|would like (?:to see|an option|a way)"
        r"|nice to have|wish(?:list| there was)|feature (?:idea|suggestion)|add support for"
        r"|wäre (?:schön|toll|super)|sería (?:genial|útil)|serait (?:bien|utile|génial)"
        r"|seria (?:ótimo|útil|bom))"
    ),
    "support": re.compile(
        r"(?:\bhow (?:do|can|should|would) (?:i|we)\b|\bhow to\b"
        r"|\bwhere (?:can|do|is|are|should) (?:i|we|my|our|the)\b|\bwhat(?:'s| is) the best way\b"
        r"|\bis (?:it|there) (?:possible|a way)"
        r"|\bcan (?:i|we) (?:change|set|add|invite|connect|configure|use|export|get|have)\b"
        r"|\bwie (?:kann|können) (?:ich|wir)\b|\bcomment (?:puis-je|pouvons-nous|faire|ajouter)"
        r"|\bcómo (?:puedo|podemos|se)\b|\bcomo (?:posso|podemos|faço)\b)"
    ),
    "bug": re.compile(
        r"\b(?:time[sd]? out|timeouts?|error (?:code|message)?\s?\d{3}|\(5\d\d\)|http 5\d\d"
        r"|crash(?:es|ed|ing)?|stack ?trace|exception)\b"
    ),
    "other": re.compile(
        r"\b(?:partnership|partner program|reseller|affiliate program|press (?:inquiry|request)"
        r"|interview (?:request|with)|(?:an|my) article|journalist|sponsorship|job (?:application"
        r"|opening|posting)|apply for (?:a|the) (?:job|position|role)|out of (?:the )?office"
        r"|automatic reply|auto-?reply|abwesenheitsnotiz|absence du bureau|fuera de la oficina)\b"
    ),
}
"""Category -> phrasing that names the kind of ticket (a how-to question, a feature wish, a
crash or timeout, a press, partnership or job inquiry, an out-of-office reply)."""


def find_category_cue(text: str) -> str | None:
    """The one category whose phrasing a lowercased text uses; None for none or several."""
    fired = [name for name, pattern in CATEGORY_CUES.items() if pattern.search(text)]
    return fired[0] if len(fired) == 1 else None
