"""Flags from dataclasses: --config precedence (defaults < file < flags),
booleans both ways, aliases, -v (outside case BR-23)."""

import dataclasses
from typing import Optional

import pytest

from tfllm.cli.args import build_parser
from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.config import ConfigError
from tfllm.config import help_field
from tfllm.config import save_config

from br23_case import RUN_YAML
from br23_case import CaseConfig

@dataclasses.dataclass
class Data:
    max_train_examples: Optional[int] = help_field(
        "seeded subset", None, aliases=["--max-train-sentences"])
    texts: tuple = dataclasses.field(
        default=(), metadata={"positional": True, "help": "texts"})


@pytest.fixture
def run_yaml(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(RUN_YAML)
    return path


def _parse(argv, classes=(CaseConfig,)):
    return parse_dataclasses(list(classes), argv)


def test_case_command_resolves_to_the_expected_config(run_yaml):
    [config] = _parse(["--config", str(run_yaml), "--epochs", "7",
                       "--seed", "1"])
    assert dataclasses.asdict(config) == {
        "task": "ner", "epochs": 7, "learning_rate": 0.001,
        "weight_decay": 0.01, "warmup_ratio": 0.05, "lowercase": False,
        "mixed_precision": True, "shuffle": False, "language": "no",
        "seed": 1}
    assert type(config.learning_rate) is float


def test_flags_win_wherever_they_stand(run_yaml):
    [config] = _parse(["--epochs", "7", f"--config={run_yaml}"])
    assert config.epochs == 7 and config.task == "ner"


def test_without_config_the_code_defaults_hold():
    [config] = _parse([])
    assert config == CaseConfig()


@pytest.mark.parametrize("flag,field,value", [
    ("--lowercase", "lowercase", True),        # file: no
    ("--no-lowercase", "lowercase", False),
    ("--mixed-precision", "mixed_precision", True),
    ("--no-mixed-precision", "mixed_precision", False),  # file: on
    ("--shuffle", "shuffle", True),            # file: off
    ("--no-shuffle", "shuffle", False),
])
def test_each_boolean_flips_both_ways_against_the_file(run_yaml, flag,
                                                       field, value):
    [config] = _parse(["--config", str(run_yaml), flag])
    assert getattr(config, field) is value
    [plain] = _parse([flag])
    assert getattr(plain, field) is value


def test_wrong_type_in_the_file_fails_before_anything_runs(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epochs: yes\n")
    with pytest.raises(ConfigError,
                       match=r"run.yaml:1: epochs: expected int, got 'yes'"):
        _parse(["--config", str(path)])


def test_unknown_key_in_the_file_fails(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("epoch = 3\n")
    with pytest.raises(ConfigError, match=r"run.toml:1: unknown setting "
                                          r"'epoch' \(did you mean "
                                          r"'epochs'\?\)"):
        _parse(["--config", str(path)])


def test_a_saved_config_repeats_the_run(run_yaml, tmp_path):
    [config] = _parse(["--config", str(run_yaml), "--epochs", "7"])
    saved = save_config(tmp_path / "config.yaml", config)
    [again] = _parse(["--config", str(saved)])
    assert again == config


def test_later_config_files_win(run_yaml, tmp_path):
    second = tmp_path / "more.toml"
    second.write_text("epochs = 9\nshuffle = true\n")
    [config] = _parse(["--config", str(run_yaml), "--config", str(second),
                       "--seed", "1"])
    assert (config.epochs, config.shuffle, config.learning_rate,
            config.seed) == (9, True, 0.001, 1)


def test_toml_config(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('learning_rate = 1e-3\nshuffle = false\nlanguage = "no"\n')
    [config] = _parse(["--config", str(path), "--shuffle"])
    assert (config.learning_rate, config.shuffle, config.language) == \
        (0.001, True, "no")


def test_aliases_are_accepted_and_hidden(capsys):
    [data] = _parse(["--max-train-sentences", "5"], [Data])
    assert data.max_train_examples == 5
    [data] = _parse(["--max-train-examples", "6"], [Data])
    assert data.max_train_examples == 6
    with pytest.raises(SystemExit):
        _parse(["--help"], [Data])
    out = capsys.readouterr().out
    assert "--max-train-examples" in out
    assert "--max-train-sentences" not in out
    assert "--config FILE" in out and "--verbose" in out


def test_positional_field_and_verbose():
    [data] = _parse(["a b", "c", "-v"], [Data])
    assert data.texts == ("a b", "c")
    [data] = _parse(["a", "--max-train-examples", "2", "b"], [Data])
    assert (data.texts, data.max_train_examples) == (("a", "b"), 2)
    parser = build_parser([Data], prog="tfllm predict x")
    namespace = parser.parse_args(["-vv", "t"])
    assert namespace.verbose == 2
    assert parser.format_usage().startswith("usage: tfllm predict x ")


def test_run_cli_prints_one_line_for_missing_files(capsys, tmp_path):
    def main():
        open(tmp_path / "nope.txt")

    with pytest.raises(SystemExit) as e:
        run_cli(main)
    assert e.value.code == 2
    assert capsys.readouterr().err == \
        f"error: {tmp_path / 'nope.txt'}: no such file or directory\n"

    def folder():
        open(tmp_path)

    with pytest.raises(SystemExit):
        run_cli(folder)
    assert capsys.readouterr().err == \
        f"error: {tmp_path}: is a directory, not a file\n"


def test_run_cli_prints_config_errors(capsys, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epochs: yes\n")
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: _parse(["--config", str(path)]))
    assert e.value.code == 2
    assert capsys.readouterr().err == \
        f"error: {path}:1: epochs: expected int, got 'yes'\n"
