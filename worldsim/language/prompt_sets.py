"""Prompt sets: prompts with the attributes they ask for, to tune and report prompt-conditioned scenes.

A set is a YAML file (`scenarios/prompts/<domain>-<split>.yaml`): its domain, its split (`dev` to
tune on, `heldout` to report), and prompts, each of a kind (simple, compositional, relational,
out_of_range) with the attributes it asks for, or, for an out-of-range prompt, a word of the error
the domain must refuse it with. Loading checks every entry against the domain's attribute table,
so a typo in a set is an error naming the file and the prompt, not a silently wrong score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from worldsim import domains
from worldsim.language.attributes import AttributeTable

PROMPT_SETS = Path(__file__).resolve().parent.parent.parent / "scenarios" / "prompts"
KINDS = ("simple", "compositional", "relational", "out_of_range")
SPLITS = ("dev", "heldout")


class PromptSetError(ValueError):
    """A prompt set that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class PromptCase:
    text: str
    kind: str
    attributes: dict[str, str | float] = field(default_factory=dict)
    refused: str = ""  # out_of_range: a word the refusal must contain


@dataclass(frozen=True)
class PromptSet:
    domain: str
    split: str
    path: Path
    cases: tuple[PromptCase, ...]


def prompt_set_path(domain: str, split: str) -> Path:
    return PROMPT_SETS / f"{domain}-{split}.yaml"


def load_prompt_set(ref: str | Path) -> PromptSet:
    path = Path(ref)
    if not path.is_file():
        raise PromptSetError(f"{path}: prompt set not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PromptSetError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list):
        raise PromptSetError(f"{path}: expected a mapping with 'domain', 'split' and a list of 'prompts'")
    domain, split = data.get("domain"), data.get("split")
    if domain not in domains.names() or not domains.get(domain).attributes:
        raise PromptSetError(f"{path}: domain {domain!r} has no prompt attributes")
    if split not in SPLITS:
        raise PromptSetError(f"{path}: split {split!r} is not one of {', '.join(SPLITS)}")
    table = domains.get(domain).load("attributes")
    cases = tuple(_case(path, i, entry, table) for i, entry in enumerate(data["prompts"]))
    return PromptSet(domain, split, path, cases)


def _case(path: Path, index: int, entry, table: AttributeTable) -> PromptCase:
    where = f"{path}: prompt {index + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
        raise PromptSetError(f"{where}: expected a mapping with a 'text' string")
    where += f" ({entry['text']!r})"
    kind = entry.get("kind")
    if kind not in KINDS:
        raise PromptSetError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(entry) - {"text", "kind", "attributes", "refused"}
    if unknown:
        raise PromptSetError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    if kind == "out_of_range":
        if not entry.get("refused") or entry.get("attributes"):
            raise PromptSetError(f"{where}: an out_of_range prompt names the word it is 'refused' with, and no attributes")
        return PromptCase(entry["text"], kind, refused=str(entry["refused"]))
    asked = entry.get("attributes")
    if not isinstance(asked, dict) or not asked:
        raise PromptSetError(f"{where}: expected 'attributes', a mapping of attribute to value")
    values: dict[str, str | float] = {}
    for name, value in asked.items():
        try:
            attribute = table[name]
        except KeyError as error:
            raise PromptSetError(f"{where}: {error.args[0]}") from None
        if attribute.numeric:
            if not isinstance(value, int | float) or not attribute.low <= value <= attribute.high:
                raise PromptSetError(f"{where}: {name} {value!r} is not a number in {attribute.low:g}-{attribute.high:g}")
            values[name] = float(value)
        elif value not in attribute.values:
            raise PromptSetError(f"{where}: {name} {value!r} is not one of {', '.join(attribute.values)}")
        else:
            values[name] = value
    if kind == "relational" and not any(table[name].relational for name in values):
        raise PromptSetError(f"{where}: a relational prompt asks for at least one relational attribute")
    return PromptCase(entry["text"], kind, values)
