"""Config validation: strict, every error names its field path, and `check-config` reports it."""

import json
import subprocess
import sys

import pytest
import yaml

from em_monitor.cli import main
from em_monitor.config import (
    ConfigError,
    MonitorConfig,
    load_config,
    render_schema,
    schema_path,
)


def _run_check(path, capsys):
    code = main(["check-config", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_shipped_example_config_is_valid(capsys):
    """`examples/monitor.yaml` (every key commented) checks out against the shipped SmolLM2 pack."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "monitor.yaml"
    code, output = _run_check(example, capsys)
    assert code == 0, output
    assert "ok" in output and "SmolLM2" in output


def test_valid_config_passes(write_config, capsys):
    code, output = _run_check(write_config(signals={"toxic_persona": {"warn": 2, "critical": 4}}), capsys)
    assert code == 0, output
    assert "ok" in output


@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        ({"every_n_steps": "often"}, "every_n_steps", "whole number"),
        ({"signals": {"toxic_persona": {"critcal": 3}}}, "signals.toxic_persona.critcal", "unknown key"),
        ({"colour": "red"}, "colour", "unknown key"),
        ({"pack": "/nonexistent/pack"}, "pack", "no pack.yaml"),
        ({"signals": {"toxic_persona": {"warn": 5, "critical": 4}}}, "signals.toxic_persona", "warn (5.0) must be below critical"),
        ({"signals": {"no_such_signal": {"warn": 1}}}, "signals.no_such_signal", "the pack has no such signal"),
        ({"sources": ["prompts", "tweets"]}, "sources.1", "allowed values"),
        ({"actions": {"on_critical": ["explode"]}}, "actions.on_critical.0", "allowed values"),
        ({"prometheus": {"port": 70000}}, "prometheus.port", "too large"),
        ({"prompts": "builtin:nope"}, "prompts", "unknown built-in prompt set"),
        ({"realign": {"dataset": "missing.jsonl"}}, "realign.dataset", "does not exist"),
        ({"realign": {"fallback": ["realign"]}}, "realign.fallback.0", "allowed values"),
    ],
)
def test_bad_config_names_the_field(write_config, capsys, overrides, field, hint):
    code, output = _run_check(write_config(**overrides), capsys)
    assert code == 1
    assert f"  {field}: " in output and hint in output, output


def test_every_error_is_reported_at_once(write_config):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(every_n_steps=0, colour="red", batch_size=-1))
    assert {path for path, _ in caught.value.problems} == {"every_n_steps", "colour", "batch_size"}


def test_yaml_on_key_pitfall_is_not_possible():
    # YAML 1.1 reads a bare `on:` key as the boolean true; the rule key is `measure` for that reason.
    assert "on" not in MonitorConfig.model_json_schema()["$defs"]["SignalRule"]["properties"]


def test_malformed_yaml_names_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("run: x\nsignals: [unclosed\n")
    code, output = _run_check(path, capsys)
    assert code == 1 and "line 3" in output and "not valid YAML" in output


def test_relative_paths_resolve_against_the_config_file(tmp_path, pack_dir, prompts_file):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "monitor.yaml"
    path.write_text(yaml.safe_dump({"pack": str(pack_dir), "prompts": "../prompts.txt"}))
    assert load_config(path).prompts == str(prompts_file.resolve())


def test_shipped_schema_is_current():
    assert schema_path().read_text() == render_schema(), "run `em-monitor schema --write`"
    schema = json.loads(render_schema())
    assert schema["additionalProperties"] is False and "pack" in schema["required"]


def test_cli_entry_point_runs_as_a_console_script(write_config):
    result = subprocess.run([sys.executable, "-m", "em_monitor.cli", "check-config", str(write_config(colour=1))], capture_output=True, text=True)
    assert result.returncode == 1 and "colour" in result.stderr


# --- fuzzing: whatever the file holds, the answer is a ConfigError naming where, never a traceback ---
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_KEYS = st.sampled_from(["run", "pack", "every_n_steps", "signals", "toxic_persona", "warn", "critical", "measure", "sources",
                         "actions", "on_critical", "realign", "samples", "prometheus", "port", "generations", "max_prompts", "zz"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.text(max_size=12))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=12)


def _only_config_errors(path) -> None:
    try:
        load_config(path)
    except ConfigError as error:
        assert error.problems and all(where and message for where, message in error.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("abc: -[]{}\n\t'\"#&*!|>%@`,?0.9")), max_size=80))
def test_fuzzed_yaml_text_gives_a_config_error_never_a_traceback(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    _only_config_errors(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_fuzzed_config_structures_give_a_config_error_naming_the_field(tmp_path, pack_dir, raw):
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump({"pack": str(pack_dir), **raw}))
    _only_config_errors(path)
