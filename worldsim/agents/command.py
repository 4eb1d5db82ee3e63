"""The command line behind a recorded result, for the people who read result files.

Results keep their configuration as data (`"config"`), which is what resuming compares; this
string is the same configuration as the `agents/` script that runs it would be called, to copy
and rerun.
"""

from __future__ import annotations

import shlex
from dataclasses import fields


def command_line(script: str, config, **rendered: list[str]) -> str:
    """`python agents/<script>` with a flag per field of `config`: `--a-field value`, `--a-field`
    alone for True, nothing for None and False. `rendered` gives the arguments of fields whose
    flags do not follow that rule."""
    argv = ["python", f"agents/{script}"]
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name in rendered:
            argv += rendered[f.name]
        elif value is True:
            argv.append("--" + f.name.replace("_", "-"))
        elif value is not None and value is not False:
            argv += ["--" + f.name.replace("_", "-"), str(value)]
    return shlex.join(argv)


def crash_rule_flag(crash_rule: bool | None) -> list[str]:
    """The scripts take only the ablation: True is the default wherever a domain has a rule."""
    return ["--no-crash-rule"] if crash_rule is False else []
