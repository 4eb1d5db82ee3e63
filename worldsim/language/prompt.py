"""Prompts read into attributes, and refused with a clear reason where a domain cannot ground them.

A prompt is split into clauses (at commas, "and", "with", ...); each clause is about the first thing
it names (a subject of some attribute: "block", "agent", "ego", "car"; a clause naming none carries
on the last one), and its words are matched against that subject's phrases, longest first, each span
used once. Numbers are checked against the ranges the domain's data covers. What is refused, with a
`PromptError` naming the words: an empty prompt, a number out of range ("400 m/s", "lane 7"),
another domain's words, a thing the state does not record ("a bend ahead" in CarRacing), two values
for one attribute, a prompt with nothing this domain can ground. Words that match nothing and belong
to no domain are reported as ignored, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from worldsim.language.attributes import Attribute, AttributeTable

CLAUSE_BREAK = re.compile(r"[,;.:!?]|\b(?:and|with|while|where|but|plus)\b")
NUMBER = r"(-?\d+(?:\.\d+)?)"
# Words any prompt may use without asking for anything.
STOP_WORDS = frozenset(
    "a an the is are be of in on at to its it it's their there's there scene start starting from please "
    "show me make give generate one some very quite just also then that which who has have been being "
    "by for as this and with while where but plus".split()
)


class PromptError(ValueError):
    """A prompt the domain cannot ground; the message says what was wrong."""


@dataclass
class ParsedPrompt:
    text: str
    domain: str
    attributes: dict[str, str | float] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # words that asked for nothing this domain knows

    def to_json(self) -> dict:
        return {"prompt": self.text, "domain": self.domain, "attributes": dict(self.attributes), "ignored": list(self.ignored)}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9'/°]+", text.lower())


def _pattern(phrase: str) -> str:
    """A phrase (with "{}" for a number) as a regular expression on word boundaries."""
    parts = [re.sub(r"(\\ |\\-|-)+", r"[\\s-]+", re.escape(p)) for p in phrase.split("{}")]
    return r"(?<![\w-])" + NUMBER.join(parts) + r"(?![\w-])"


def vocabulary(table: AttributeTable, naming_only: bool = False) -> frozenset[str]:
    """The words of the table's phrases; with `naming_only`, only those that name things
    ("the blue disc"): left over in a prompt, they asked for nothing and are not reported."""
    words: set[str] = set()
    for attribute in table.attributes:
        texts = list(attribute.subjects) + list(attribute.subject_phrases)
        if not naming_only:
            texts += list(attribute.templates) + [p for phrases in attribute.phrases.values() for p in phrases]
        for text in texts:
            words.update(w for w in _words(text.replace("{}", " ").replace("-", " ")) if not w.isdigit())
    return frozenset(words)


def _subject_at(clause: str, attributes: tuple[Attribute, ...]) -> tuple[int, str] | None:
    """The first subject word named in the clause: (position, subject); longer first on ties."""
    found = []
    for attribute in attributes:
        for subject in attribute.subjects:
            match = re.search(_pattern(subject), clause)
            if match:
                found.append((match.start(), -len(subject), subject))
    if not found:
        return None
    start, _, subject = min(found)
    return start, subject


def parse_prompt(text: str, table: AttributeTable, others: tuple[AttributeTable, ...] = ()) -> ParsedPrompt:
    """Read `text` into the attributes of `table`'s domain; `others` (the other domains' tables)
    name the words that belong elsewhere. Raises PromptError where the prompt cannot be grounded."""
    if not isinstance(text, str):
        raise PromptError(f"a prompt is a string, got {type(text).__name__}")
    if not text.strip():
        raise PromptError("the prompt is empty: say what the scene should hold, e.g. " + _example(table))
    lowered = " " + text.lower().replace("’", "'") + " "
    for check in table.numbers:
        for match in re.finditer(check.pattern, lowered):
            number = float(next(g for g in match.groups() if g is not None))
            if not check.low <= number <= check.high:
                raise PromptError(
                    f"{match.group(0).strip()!r}: {number:g} is outside the {check.what} a {table.domain} scene "
                    f"can have ({check.low:g}-{check.high:g})"
                )
    for word, why in table.unsupported.items():
        if re.search(_pattern(word), lowered):
            raise PromptError(f"{word!r}: {why}, so a {table.domain} scene cannot be asked for it")

    parsed = ParsedPrompt(text, table.domain)
    used = [False] * len(lowered)
    subject = None
    for clause, start in _clauses(lowered):
        named = _subject_at(clause, table.attributes)
        if named is not None and subject is not None:
            # "clear of the block" goes on about the agent: a subject word inside a phrase of the
            # current subject does not change the subject.
            inside = [span for _, _, span in _matches(clause, table, subject) if span[0] <= named[0] < span[1]]
            named = None if inside else named
        if named is not None:
            subject = named[1]
        # A clause that names nothing, with nothing named before it, is read only by phrases that
        # say one attribute's value whatever the subject ("nothing ahead").
        found = _matches(clause, table, subject) if subject is not None else _matches(clause, table, None)
        for attribute, value, span in found:
            lo, hi = start + span[0], start + span[1]
            if any(used[lo:hi]):
                continue
            _mark(used, lo, hi - lo)
            _assign(parsed, attribute, value)
        if named is not None:  # the subject word itself, where no phrase ("no car ahead") took it
            _mark(used, start + named[0], len(named[1]))
    leftover = "".join(ch if not u else " " for ch, u in zip(lowered, used, strict=True))
    ours = vocabulary(table)
    leftovers = [w for w in _words(leftover) if w not in STOP_WORDS and not re.fullmatch(NUMBER, w)]
    foreign = {}
    for other in others:
        theirs = vocabulary(other) - ours - STOP_WORDS
        hits = [w for w in leftovers if w in theirs]
        if hits:
            foreign[other.domain] = hits
    if foreign:
        said = "; ".join(f"{', '.join(map(repr, words))} are {domain} words" for domain, words in foreign.items())
        raise PromptError(f"{said}: this is a {table.domain} model")
    naming = vocabulary(table, naming_only=True)
    parsed.ignored = [w for w in leftovers if w not in naming]
    if not parsed.attributes:
        raise PromptError(
            f"nothing in {text!r} is something a {table.domain} scene can be asked for; "
            f"it can be asked for: {'; '.join(a.describe() for a in table.attributes)}"
        )
    return parsed


def _clauses(text: str) -> list[tuple[str, int]]:
    """(clause, offset) pieces of `text` between clause-breaking words."""
    pieces, last = [], 0
    for match in CLAUSE_BREAK.finditer(text):
        pieces.append((text[last : match.start()], last))
        last = match.end()
    pieces.append((text[last:], last))
    return [(" " + p + " ", o - 1) for p, o in pieces if p.strip()]


def _matches(clause: str, table: AttributeTable, subject: str | None):
    """(attribute, value, span) for every phrase of the subject's attributes found in the clause,
    longest phrases first (so "left of the block" is read before "left"). Without a subject, only
    the phrases that belong to one attribute value of the whole table."""
    candidates = []
    for attribute in table.attributes:
        if subject is not None and subject not in attribute.subjects:
            continue
        if attribute.numeric:
            candidates += [(t, attribute, None) for t in attribute.templates]
        else:
            candidates += [(p, attribute, v) for v, ps in attribute.phrases.items() for p in ps]
    if subject is None:
        owners: dict[str, int] = {}
        for phrase, _, _ in candidates:
            owners[phrase] = owners.get(phrase, 0) + 1
        candidates = [c for c in candidates if owners[c[0]] == 1]
    for phrase, attribute, value in sorted(candidates, key=lambda c: -len(c[0])):
        for match in re.finditer(_pattern(phrase), clause):
            yield attribute, (float(match.group(1)) if attribute.numeric else value), match.span()


def _assign(parsed: ParsedPrompt, attribute: Attribute, value: str | float) -> None:
    if attribute.numeric and not attribute.low <= value <= attribute.high:
        raise PromptError(
            f"{attribute.name} {value:g} {attribute.unit} is outside what the {parsed.domain} data covers "
            f"({attribute.low:g}-{attribute.high:g} {attribute.unit})"
        )
    before = parsed.attributes.get(attribute.name)
    if before is not None and before != value:
        raise PromptError(f"the prompt asks for two values of {attribute.name}: {before!r} and {value!r}")
    parsed.attributes[attribute.name] = value


def _mark(used: list[bool], start: int, length: int) -> None:
    for i in range(max(start, 0), min(start + length, len(used))):
        used[i] = True


def _example(table: AttributeTable) -> str:
    attribute = table.attributes[0]
    phrase = attribute.templates[0].format(int(attribute.low)) if attribute.numeric else next(iter(attribute.phrases.values()))[0]
    return repr(f"{attribute.subject_phrases[0] if attribute.subject_phrases else attribute.subjects[0]} {phrase}")
