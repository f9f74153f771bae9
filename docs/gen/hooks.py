"""MkDocs hooks (`hooks:` in mkdocs.yml): the pages generated from the code at every build.

- `reference/mixers.md` from the mixer registry and the mixers' cards (`pages_mixers`);
- `reference/study-file.md` and `reference/objectives.md` from the study schema (`pages_study`);
- `reference/commands.md` from every command's argparse parser (`pages_commands`);
- `reference/api/*.md`, one page per public package, rendered by mkdocstrings (`pages_api`), and
  their entries in the navigation under "API reference".

Nothing here is written into `docs/`: the pages exist only in the build.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for folder in (HERE, REPO):  # the generators, and `benchmarks` (not an installed package)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import pages_api  # noqa: E402
import pages_commands  # noqa: E402
import pages_mixers  # noqa: E402
import pages_study  # noqa: E402

API_SECTION = "API reference"


def generated_pages() -> dict[str, str]:
    """Source path in the site -> Markdown."""
    pages = {
        "reference/mixers.md": pages_mixers.render(),
        "reference/study-file.md": pages_study.render_study_file(),
        "reference/objectives.md": pages_study.render_objectives(),
        "reference/commands.md": pages_commands.render(),
    }
    packages = pages_api.packages()
    pages["reference/api/index.md"] = pages_api.render_index(packages)
    pages.update({pages_api.path_of(p): pages_api.render_page(p) for p in packages})
    return pages


def on_config(config, **kwargs):
    """The "API reference" entry of the navigation lists the index, then one page per package."""
    entries = ["reference/api/index.md"] + [{f"{p}": pages_api.path_of(p)} for p in pages_api.packages()]
    if not _fill(config["nav"] or [], entries):
        raise ValueError(f"mkdocs.yml's nav has no '{API_SECTION}' entry for the API pages (docs/gen/hooks.py)")
    return config


def _fill(nav: list, entries: list) -> bool:
    for item in nav:
        if isinstance(item, dict):
            for title, value in item.items():
                if title == API_SECTION:
                    item[title] = entries
                    return True
                if isinstance(value, list) and _fill(value, entries):
                    return True
    return False


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for path, content in generated_pages().items():
        files.append(File.generated(config, path, content=content))
    return files
