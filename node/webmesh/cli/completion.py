"""Shell completion for bash, zsh and fish, generated from wmctl's argparse tree.

A small generator rather than a dependency: the tree is walked once into (command path ->
subcommands, options, options that take a value), and each shell gets a script that walks the
words typed so far through the same table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")


@dataclass
class Level:
    commands: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    valued: list[str] = field(default_factory=list)


def tree(parser: argparse.ArgumentParser) -> dict[str, Level]:
    """Every command path ("" for wmctl itself, "get", "config set-cluster") and what it takes."""
    found: dict[str, Level] = {}

    def walk(path: str, node: argparse.ArgumentParser) -> None:
        level = found.setdefault(path, Level())
        for action in node._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    level.commands.append(name)
                    walk(f"{path} {name}".strip(), child)
            for option in action.option_strings:
                level.options.append(option)
                if action.nargs != 0:
                    level.valued.append(option)

    walk("", parser)
    return found


def _bash(levels: dict[str, Level]) -> str:
    # bash arrays have no empty key: the path of wmctl itself is "wmctl".
    keys = {p: f"wmctl {p}".strip() for p in levels}
    commands = "\n".join(f'  ["{keys[p]}"]="{" ".join(lv.commands)}"' for p, lv in levels.items())
    options = "\n".join(f'  ["{keys[p]}"]="{" ".join(lv.options)}"' for p, lv in levels.items())
    valued = sorted({o for lv in levels.values() for o in lv.valued})
    return f"""# wmctl completion for bash: source <(wmctl completion bash)
declare -gA _wmctl_commands=(
{commands}
)
declare -gA _wmctl_options=(
{options}
)
_wmctl_valued=" {" ".join(valued)} "

_wmctl() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" path=wmctl word i
  if [[ "$_wmctl_valued" == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${{COMP_WORDS[i]}}"
    if [[ "$_wmctl_valued" == *" $word "* ]]; then
      ((i++))
      continue
    fi
    [[ "$word" == -* ]] && continue
    if [[ " ${{_wmctl_commands[$path]}} " == *" $word "* ]]; then
      path="$path $word"
    fi
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "${{_wmctl_options[$path]}}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "${{_wmctl_commands[$path]}}" -- "$cur"))
  fi
}}
complete -o default -F _wmctl wmctl
"""


def _zsh(levels: dict[str, Level]) -> str:
    return (
        "#compdef wmctl\n# wmctl completion for zsh: source <(wmctl completion zsh)\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + _bash(levels).split("\n", 1)[1]
    )


def _fish(levels: dict[str, Level]) -> str:
    cases = "\n".join(
        f"        case '{p}'\n            echo {' '.join(lv.commands) or '-'}"
        for p, lv in levels.items()
    )
    valued = " ".join(sorted({o for lv in levels.values() for o in lv.valued}))
    lines = [
        "# wmctl completion for fish: wmctl completion fish | source",
        "function __wmctl_children",
        "    switch $argv[1]",
        cases,
        "    end",
        "end",
        "function __wmctl_path",
        "    set -l tokens (commandline -opc)",
        "    set -e tokens[1]",
        "    set -l path ''",
        "    set -l skip 0",
        "    for t in $tokens",
        "        if test $skip = 1; set skip 0; continue; end",
        f"        if contains -- $t {valued}; set skip 1; continue; end",
        "        if string match -q -- '-*' $t; continue; end",
        "        if contains -- $t (string split ' ' (__wmctl_children $path))",
        '            set path (string trim -- "$path $t")',
        "        end",
        "    end",
        "    echo $path",
        "end",
    ]
    for path, level in levels.items():
        condition = f"test (__wmctl_path) = '{path}'"
        if level.commands:
            lines.append(f"complete -c wmctl -f -n \"{condition}\" -a '{' '.join(level.commands)}'")
        for option in level.options:
            if option.startswith("--"):
                needs = " -r" if option in level.valued else ""
                lines.append(f"complete -c wmctl -n \"{condition}\" -l '{option[2:]}'{needs}")
    return "\n".join(lines) + "\n"


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    levels = tree(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](levels)
