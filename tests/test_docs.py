"""The documentation site: it builds offline with `mkdocs build --strict`, so a broken link, a missing
anchor, a page left out of the navigation or a docstring mkdocstrings cannot render fails here; and the
pages generated from the code (`docs/gen/`) cover what they claim to."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs" / "gen"))
import pages_commands  # noqa: E402
import pages_mixers  # noqa: E402
import pages_study  # noqa: E402
import study_notes  # noqa: E402

BUILD_TOOLS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
MISSING_TOOLS = [name for name in BUILD_TOOLS if importlib.util.find_spec(name.split(".")[0]) is None
                 or importlib.util.find_spec(name) is None]
#: The commands whose modules promise a public `build_parser()`; the benchmarks' are rendered when they can be.
CORE_COMMANDS = ("search.run", "search.report", "search.export", "fwformer.train", "fwformer.evaluate",
                 "fwformer.summary")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if MISSING_TOOLS:
        pytest.skip(f"the documentation tools are not installed ({', '.join(MISSING_TOOLS)}): "
                    f"pip install -e \".[dev]\"")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0, not a warning
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                             str(REPO / "mkdocs.yml"), "--site-dir", str(out)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-6000:]}"
    return out


def test_the_site_builds_strict_with_the_generated_pages(site):
    for page in ("index.html", "reference/mixers/index.html", "reference/study-file/index.html",
                 "reference/objectives/index.html", "reference/commands/index.html", "reference/api/index.html",
                 "reference/api/search.study/index.html", "benchmarks/index.html"):
        assert (site / page).is_file(), page
    assert "4D² + 12D" in (site / "reference/mixers/index.html").read_text()  # ssa, fitted on the built mixer


def test_the_site_fetches_nothing(site):
    """`theme.font: false`: no page points at a font or script on another host."""
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, page


def test_every_study_key_has_a_description():
    missing = [key for key, text in pages_study.descriptions().items() if not text.strip()]
    assert not missing, f"study keys without a field comment or an entry in docs/gen/study_notes.py: {missing}"


def test_the_hand_written_descriptions_name_existing_keys():
    stale = sorted(set(study_notes.DESCRIPTIONS) - set(pages_study.all_keys()))
    assert not stale, f"docs/gen/study_notes.py describes keys the study schema does not have: {stale}"


def test_the_study_reference_lists_the_checked_values():
    from search.study import SAMPLERS

    allowed = pages_study.allowed_values()
    assert all(f"`{name}`" in allowed["search.sampler"] for name in SAMPLERS)
    assert set(allowed) <= set(pages_study.all_keys())


@pytest.mark.parametrize("command", CORE_COMMANDS)
def test_every_core_command_renders_from_its_parser(command):
    rendered = pages_commands.load(command)
    assert rendered.parser is not None, rendered.reason


def test_the_commands_page_shows_an_option_of_each_core_command():
    text = pages_commands.render()
    for option in ("--study", "--pick", "--checkpoint", "--resume"):
        assert f'<code class="option">{option}</code>' in text, option


def test_the_mixer_reference_shows_every_registered_name():
    from fwformer.mixers import known_names

    text = pages_mixers.render()
    assert [name for name in known_names() if f"`{name}`" not in text] == []


def test_the_readme_is_a_front_page_with_the_commands_ci_runs():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    ci = (REPO / ".ci" / "run").read_text()
    for command in ('pip install -e ".[dev]"', "python -m pytest -q"):
        assert f"```bash\n{command}\n```" in text and f"\n{command}\n" in ci, command
