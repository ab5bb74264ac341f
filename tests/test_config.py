"""Config files: YAML 1.2 / TOML loading, typing against dataclass fields,
and the resolved config written with a run (outside case BR-23)."""

import dataclasses
from typing import Optional

import pytest
import yaml

from tfllm.config import ConfigError
from tfllm.config import coerce_config
from tfllm.config import help_field
from tfllm.config import load_config
from tfllm.config import load_config_file
from tfllm.config import save_config

from br23_case import RUN_YAML
from br23_case import CaseConfig

@dataclasses.dataclass
class DataConfig:
    max_train_examples: Optional[int] = help_field(
        "subset", None, aliases=["--max-train-sentences"])
    data_dir: Optional[str] = None
    fraction: Optional[float] = None


@dataclasses.dataclass
class TrainingConfig:
    epochs: int = 3
    learning_rate: float = 5e-5


FILE_VALUES = {"task": "ner", "epochs": 5, "learning_rate": 0.001,
               "weight_decay": 0.01, "warmup_ratio": 0.05,
               "lowercase": False, "mixed_precision": True, "shuffle": False,
               "language": "no"}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pyyaml_reads_the_case_file_the_wrong_way():
    """The YAML 1.1 reading the loader must not give (BR-23's reference)."""
    loaded = yaml.safe_load(RUN_YAML)
    assert loaded["learning_rate"] == "1e-3"
    assert loaded["warmup_ratio"] == "5e-2"
    assert loaded["language"] is False


def test_yaml_is_read_as_yaml_1_2(tmp_path):
    path = _write(tmp_path, "run.yaml", RUN_YAML + "octal: 010\n")
    loaded = load_config_file(path)
    assert loaded["learning_rate"] == 0.001
    assert type(loaded["learning_rate"]) is float
    assert loaded["warmup_ratio"] == 0.05
    assert loaded["language"] == "no"
    assert loaded["lowercase"] == "no"  # a string until typed by its field
    assert loaded["octal"] == 10 and type(loaded["octal"]) is int
    assert loaded.lines["epochs"] == 2


def test_case_file_is_typed_by_the_fields(tmp_path):
    path = _write(tmp_path, "run.yaml", RUN_YAML)
    values = load_config(path, [CaseConfig])
    assert values == FILE_VALUES
    assert [type(values[k]) for k in ("epochs", "learning_rate",
                                      "lowercase", "language")] == \
        [int, float, bool, str]


@pytest.mark.parametrize("word,expected", [
    ("true", True), ("False", False), ("yes", True), ("NO", False),
    ("on", True), ("off", False), ("1", True), ("0", False)])
def test_boolean_words(word, expected):
    assert coerce_config({"shuffle": word}, [CaseConfig]) == \
        {"shuffle": expected}


def test_wrong_type_fails_at_load_with_file_line_and_key(tmp_path):
    path = _write(tmp_path, "run.yaml", "task: ner\nepochs: yes\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, [CaseConfig])
    assert str(e.value) == f"{path}:2: epochs: expected int, got 'yes'"
    assert e.value.key == "epochs" and e.value.line == 2


@pytest.mark.parametrize("key,value,message", [
    ("epochs", True, "epochs: expected int, got True"),
    ("epochs", 2.5, "epochs: expected int, got 2.5"),
    ("learning_rate", "fast", "learning_rate: expected float, got 'fast'"),
    ("shuffle", "maybe", "shuffle: expected bool"),
    ("language", False, "language: expected str, got False"),
])
def test_wrong_types_are_rejected(key, value, message):
    with pytest.raises(ConfigError, match="^cfg.yaml: " + message):
        coerce_config({key: value}, [CaseConfig], "cfg.yaml")


def test_integral_float_and_numeric_strings_are_accepted():
    values = coerce_config({"epochs": 4.0, "learning_rate": "2e-5",
                            "seed": "7"}, [CaseConfig])
    assert values == {"epochs": 4, "learning_rate": 2e-5, "seed": 7}
    assert type(values["epochs"]) is int


def test_optional_fields_take_null_and_none():
    values = coerce_config({"max_train_examples": None, "fraction": "none",
                            "data_dir": "none"}, [DataConfig])
    assert values == {"max_train_examples": None, "fraction": None,
                      "data_dir": "none"}  # a str field keeps the word


def test_unknown_key_fails_with_a_suggestion(tmp_path):
    path = _write(tmp_path, "run.yaml", "task: ner\nlearning_rat: 1e-3\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, [CaseConfig])
    assert str(e.value) == (f"{path}:2: unknown setting 'learning_rat' "
                            f"(did you mean 'learning_rate'?)")


def test_flag_spelling_and_aliases_are_accepted():
    values = coerce_config({"max-train-sentences": 10, "data-dir": "x"},
                           [DataConfig])
    assert values == {"max_train_examples": 10, "data_dir": "x"}


def test_sections_named_after_the_dataclasses(tmp_path):
    path = _write(tmp_path, "run.yaml",
                  "data:\n  max_train_examples: 8\n"
                  "training:\n  epochs: 2\n  learning_rate: 1e-4\n")
    assert load_config(path, [DataConfig, TrainingConfig]) == {
        "max_train_examples": 8, "epochs": 2, "learning_rate": 1e-4}
    bad = _write(tmp_path, "bad.yaml", "training:\n  max_train_examples: 8\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: unknown setting "
                                          r"'max_train_examples'"):
        load_config(bad, [DataConfig, TrainingConfig])


def test_a_key_given_twice_fails():
    with pytest.raises(ConfigError, match="epochs: given twice"):
        coerce_config({"epochs": 2, "training": {"epochs": 3}},
                      [TrainingConfig])


def test_toml_file(tmp_path):
    path = _write(tmp_path, "run.toml", """\
task = "ner"
epochs = 5
learning_rate = 1e-3
weight_decay = 1.0e-2
warmup_ratio = 5e-2
lowercase = false
mixed_precision = true
shuffle = "off"
language = "no"
""")
    assert load_config(path, [CaseConfig]) == FILE_VALUES
    bad = _write(tmp_path, "bad.toml", 'task = "ner"\nepochs = "yes"\n')
    with pytest.raises(ConfigError,
                       match=r"bad.toml:2: epochs: expected int, got 'yes'"):
        load_config(bad, [CaseConfig])


@pytest.mark.parametrize("name,text,line,words", [
    ("bad.yaml", "task: ner\nepochs: [1, 2\nseed: 3\n", 3, "malformed YAML"),
    ("bad.toml", "task = ner\n", 1, "malformed TOML"),
    ("dup.yaml", "epochs: 1\nepochs: 2\n", 2, "malformed YAML"),
])
def test_malformed_files_name_file_and_line(tmp_path, name, text, line,
                                            words):
    path = _write(tmp_path, name, text)
    with pytest.raises(ConfigError) as e:
        load_config_file(path)
    assert str(e.value).startswith(f"{path}:{line}: {words}")


def test_other_suffixes_and_non_mappings_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="unknown config file type"):
        load_config_file(_write(tmp_path, "run.cfg", "a = 1\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config_file(_write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(FileNotFoundError):
        load_config_file(tmp_path / "missing.yaml")


def test_saved_config_reloads_to_identical_typed_values(tmp_path):
    resolved = CaseConfig(task="ner", epochs=7, learning_rate=0.001,
                          weight_decay=0.01, warmup_ratio=0.05,
                          lowercase=False, mixed_precision=True,
                          shuffle=False, language="no", seed=1)
    path = save_config(tmp_path / "run" / "config.yaml", resolved,
                       DataConfig(max_train_examples=100))
    text = path.read_text()
    assert "learning_rate: 0.001\n" in text
    assert "language: 'no'\n" in text
    assert not list(path.parent.glob(".tmp-*"))  # written aside, renamed
    expected = dataclasses.asdict(resolved) | {
        "max_train_examples": 100, "data_dir": None, "fraction": None}
    with_pyyaml = yaml.safe_load(text)
    assert with_pyyaml == expected
    assert {k: type(v) for k, v in with_pyyaml.items()} == \
        {k: type(v) for k, v in expected.items()}
    with_yaml_1_2 = load_config_file(path)
    assert with_yaml_1_2 == expected
    assert {k: type(v) for k, v in with_yaml_1_2.items()} == \
        {k: type(v) for k, v in expected.items()}
    assert load_config(path, [CaseConfig, DataConfig]) == expected


def test_save_config_leaves_out_run_name(tmp_path):
    @dataclasses.dataclass
    class Run:
        run_name: Optional[str] = "X"
        epochs: int = 3

    text = save_config(tmp_path / "c.yaml", Run()).read_text()
    assert "run_name" not in text and "epochs: 3" in text


def test_a_task_training_subclass_reads_the_training_section(tmp_path):
    """`tfllm train ner` parses `NerTrainingConfig` (head learning rate 1e-3
    by default): a file's `training:` section, as the configuration guide
    writes it, must reach it (a new user's run failed with "unknown setting
    'training'")."""
    from tfllm.cli.args import parse_dataclasses
    from tfllm.peft.options import PeftArgs
    from tfllm.runs.ner import NerConfig
    from tfllm.runs.ner import NerTrainingConfig

    path = tmp_path / "ner.yaml"
    path.write_text("backbone: minilm\ntraining:\n  epochs: 2\n"
                    "  learning_rate: 3e-5\n")
    config, training, _ = parse_dataclasses(
        [NerConfig, NerTrainingConfig, PeftArgs], ["--config", str(path)])
    assert config.backbone == "minilm"
    assert training.epochs == 2
    assert training.learning_rate == 3e-5
    assert training.head_learning_rate == 1e-3  # the NER default survives
