"""Settings dataclasses and config files.

Settings are dataclasses whose fields carry a default and a help text
(`help_field`); the Python API takes them as arguments and the command
line (`tfllm.cli.args`) turns each field into a flag. This module reads and
writes them as config files:

- `load_config_file(path)`: a YAML file (`.yaml`, `.yml`; also `.json`,
  a subset of YAML) read with a YAML 1.2 loader (ruamel.yaml), so
  `1e-3` is the float 0.001 and `no`, `on`, `off` are strings (a YAML 1.1
  loader such as PyYAML's `safe_load` reads `1e-3` as a string and `no` as
  False); or a TOML file (`.toml`, standard-library `tomllib`).
- `coerce_config(values, classes, source)`: checks every key against the
  fields of the dataclasses and converts each value to its field's type:
  `int`, `float`, `str`, `bool` and `Optional[...]` of them. Booleans
  accept true/false, yes/no, on/off and 1/0 (any case); an `int` field
  rejects booleans and non-integral numbers; a `str` field rejects
  booleans (quote the value: `language: 'no'`). An unknown key or a value
  of the wrong type raises `ConfigError` naming the file, the line and the
  key, e.g. `run.yaml:2: epochs: expected int, got 'yes'`.
- `save_config(path, *instances)`: writes the resolved settings of a run
  as YAML that both YAML 1.1 and 1.2 loaders read back to the same values
  (`learning_rate: 0.001`, `language: 'no'`).

Layout of a config file. Keys are field names (`learning_rate`; the flag
spelling `learning-rate` and a field's old names, its `aliases` metadata,
are accepted too). The file may be flat:

    epochs: 5
    learning_rate: 1e-3

or grouped in sections named after the dataclasses, in snake case with a
trailing `Config`/`Args`/`Arguments`/`Options` left out (`TrainingConfig`
-> `training`, `PeftArgs` -> `peft`; the full snake-case name such as
`training_config` works too):

    training:
      epochs: 5
      learning_rate: 1e-3

A key inside a section must be a field of that section's dataclass.
`save_config` writes the flat layout, one commented group per dataclass.
"""

import dataclasses
import difflib
import re
import typing

from tfllm.data.errors import UserInputError

YAML_SUFFIXES = (".yaml", ".yml", ".json")
TOML_SUFFIXES = (".toml",)
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
_NONE_WORDS = ("none", "null", "~")


def replace_settings(settings, overrides, what="settings", hint=""):
    """A copy of dataclass `settings` with `overrides` applied.

    The keyword overrides of the Python API (`fit(..., learning_rate=...)`,
    `generate(..., max_new_tokens=...)`) go through here, so a misspelt
    name fails at once instead of being ignored.

    Args:
        settings: a dataclass instance (`TrainingConfig`,
            `GenerationConfig`, ...).
        overrides: dict. Field name -> value (None is a value: callers
            drop the Nones they mean as "not given").
        what: str. What the keys are, for the error message.
        hint: str. Appended to the error message (other accepted keys).

    Returns:
        A new instance of the same class (`dataclasses.replace`).

    Raises:
        TypeError: a key that is not a field, named with the known fields.
    """
    names = {f.name for f in dataclasses.fields(settings)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(
            f"unknown {what} {unknown}; expected {type(settings).__name__} "
            f"fields {sorted(names)}{hint}")
    return dataclasses.replace(settings, **overrides)


def help_field(text, default=None, aliases=None):
    """A dataclass field with a default and its `--help` text.

    Args:
        text: str. The flag's help text.
        default: the flag's default value. Default None.
        aliases: list of str or None. Old spellings of the flag
            (`["--max-train-sentences"]`): accepted on the command line
            (hidden from `--help`) and as config-file keys. Default None.

    Returns:
        `dataclasses.Field` with `metadata={"help": text}` (and
        `"aliases"` when given).
    """
    metadata = {"help": text}
    if aliases:
        metadata["aliases"] = list(aliases)
    return dataclasses.field(default=default, metadata=metadata)


class ConfigError(UserInputError):
    """A config file that cannot be used: malformed, an unknown key, a
    value of the wrong type.

    The message starts with `path:line:` where the line is known (`path:`
    otherwise). Command-line tools print it as one `error:` line.

    Attributes:
        path: str or None. The config file.
        line: int or None. 1-based line number.
        key: str or None. The offending key.
    """

    def __init__(self, message, path=None, line=None, key=None):
        self.path = None if path is None else str(path)
        self.line = line
        self.key = key
        where = _where(self.path, line)
        super().__init__(f"{where}: {message}" if where else message)


def _where(path, line):
    if path is None:
        return ""
    return f"{path}:{line}" if line is not None else path


class ConfigValues(dict):
    """The mapping `load_config_file` returns: a plain `dict` of the file's
    keys and values, plus where each key was found.

    Attributes:
        path: str. The file.
        lines: dict. Key -> 1-based line (`"section.key"` for keys inside a
            section); a key missing from it has no known line.
    """

    def __init__(self, values, path, lines=None):
        super().__init__(values)
        self.path = str(path)
        self.lines = dict(lines or {})


def _plain(value):
    """ruamel.yaml's round-trip types -> plain Python values."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, int):
        if type(value).__name__ == "ScalarBoolean":
            return bool(value)
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _yaml_lines(mapping, prefix=""):
    lines = {}
    lc = getattr(mapping, "lc", None)
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if lc is not None:
            try:
                lines[name] = lc.key(key)[0] + 1
            except (KeyError, TypeError):
                pass
        if isinstance(value, dict) and not prefix:
            lines.update(_yaml_lines(value, f"{name}."))
    return lines


def _toml_lines(text):
    lines, section = {}, ""
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"\s*\[\s*([^\]\s]+)\s*\]", line)
        if header:
            section = header.group(1) + "."
            continue
        key = re.match(r"\s*[\"']?([A-Za-z0-9_-]+)[\"']?\s*=", line)
        if key:
            lines.setdefault(section + key.group(1), number)
    return lines


def load_config_file(path):
    """Reads a YAML or TOML config file (chosen by the suffix).

    YAML is read as YAML 1.2 (ruamel.yaml, safe types only): `1e-3` is a
    float, `no`/`yes`/`on`/`off` are strings (`coerce_config` turns them
    into booleans for boolean fields), `010` is the integer 10.

    Args:
        path: str or path-like. A `.yaml`, `.yml`, `.json` or `.toml` file
            whose top level is a mapping.

    Returns:
        `ConfigValues`: a dict of the file's keys (sections stay nested
        dicts) with plain Python values, and `.path`/`.lines`.

    Raises:
        FileNotFoundError: no such file.
        ConfigError: another suffix, a malformed file (`path:line:` and the
            parser's message), duplicate keys, or a top level that is not a
            mapping.
    """
    import pathlib

    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in YAML_SUFFIXES + TOML_SUFFIXES:
        raise ConfigError(
            f"unknown config file type {suffix or '(no suffix)'!r}; use "
            f"YAML (.yaml, .yml) or TOML (.toml)", path)
    text = path.read_text(encoding="utf-8")
    if suffix in TOML_SUFFIXES:
        try:
            import tomllib
        except ImportError:  # Python 3.10: the same parser as a package
            import tomli as tomllib

        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            found = re.search(r"\(at line (\d+), column \d+\)", str(e))
            line = int(found.group(1)) if found else None
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
            raise ConfigError(f"malformed TOML: {message}", path,
                              line) from None
        return ConfigValues(values, path, _toml_lines(text))
    from ruamel.yaml import YAML
    from ruamel.yaml import YAMLError

    yaml = YAML(typ="rt")  # round trip: keeps line numbers; YAML 1.2
    try:
        loaded = yaml.load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        message = f"{context}, {problem}" if context else problem
        raise ConfigError(f"malformed YAML: {message}", path,
                          line) from None
    if loaded is None:
        return ConfigValues({}, path)
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"expected a mapping of settings (key: value), got a "
            f"{type(_plain(loaded)).__name__}", path, 1)
    return ConfigValues(_plain(loaded), path, _yaml_lines(loaded))


def section_names(cls):
    """The section names a config file may use for dataclass `cls`.

    `TrainingConfig` -> `("training", "training_config")`. A subclass
    also answers to its dataclass bases' names, so a task's own training
    defaults (`NerTrainingConfig`: `ner_training`) still read a
    `training:` section.
    """
    names = []
    for klass in cls.__mro__:
        if not dataclasses.is_dataclass(klass):
            continue
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])",
                       "_", klass.__name__).lower()
        short = re.sub(r"_(config|args|arguments|options|settings)$", "",
                       snake)
        names += [short, snake]
    return tuple(dict.fromkeys(names))


def _resolve_hints(cls):
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation that does not evaluate here
        return {f.name: f.type for f in dataclasses.fields(cls)}


def field_type(cls, field):
    """`(type, optional)` of a dataclass field: `Optional[int]` ->
    `(int, True)`; `int` -> `(int, False)`; other unions and generics are
    returned as they are with `optional` False."""
    kind = _resolve_hints(cls).get(field.name, field.type)
    if isinstance(kind, str):
        try:
            kind = eval(kind, {"typing": typing, **vars(typing)})
        except Exception:
            return kind, False
    if typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        optional = len(args) < len(typing.get_args(kind))
        if len(args) == 1:
            return args[0], optional
        return kind, False
    return kind, False


def _type_name(kind):
    return getattr(kind, "__name__", str(kind))


def _convert(value, kind, optional):
    """`value` as `kind`; raises `ValueError("expected ...")`."""
    if value is None:
        if optional:
            return None
        raise ValueError(f"expected {_type_name(kind)}, got null")
    if optional and kind is not str and isinstance(value, str) \
            and value.strip().lower() in _NONE_WORDS:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise ValueError(f"expected bool (true/false, yes/no, on/off, "
                         f"1/0), got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(f"expected int, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""), 10)
            except ValueError:
                pass
        raise ValueError(f"expected int, got {value!r}")
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(f"expected float, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expected float, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"expected str, got {value!r} (quote the value to "
                         f"keep it as written)")
    origin = typing.get_origin(kind) or kind
    if origin in (list, tuple) or kind in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        return tuple(value) if origin is tuple else list(value)
    return value  # a type this module does not convert: as written


def field_names(cls):
    """`{name: field}` for a dataclass's fields and their config-file
    spellings: the field name, its flag spelling (`-` for `_`) and its
    `aliases` metadata (`--max-train-sentences` -> `max_train_sentences`)."""
    names = {}
    for field in dataclasses.fields(cls):
        names[field.name] = field
        for alias in field.metadata.get("aliases", ()):
            names[alias.lstrip("-").replace("-", "_")] = field
    return names


def coerce_config(values, classes, source=None):
    """Checks config-file values against dataclass fields and types them.

    Args:
        values: dict. Keys -> values, flat or in sections named after the
            dataclasses (see the module docstring); usually
            `load_config_file(path)`, whose `.lines` put the line number in
            error messages.
        classes: sequence of dataclass types whose fields the keys may
            name.
        source: str or None. The file named in error messages; None: the
            `.path` of `values` if it has one.

    Returns:
        dict: field name -> value converted to the field's type (see the
        module docstring for the rules). A name shared by several
        dataclasses appears once (the command line has one flag for it).

    Raises:
        ConfigError: an unknown key or section (with close matches), a
            value of the wrong type (`epochs: expected int, got 'yes'`),
            or a key given twice (flat and in a section).
    """
    if source is None:
        source = getattr(values, "path", None)
    lines = getattr(values, "lines", {})
    fields = {}
    for cls in classes:
        for name, field in field_names(cls).items():
            fields.setdefault(name, (cls, field))
    sections = {}
    for cls in classes:
        for name in section_names(cls):
            sections.setdefault(name, cls)
    result, seen = {}, {}

    def put(key, value, cls_fields, where):
        name = key.replace("-", "_")
        line = lines.get(where)
        if name not in cls_fields:
            choices = list(cls_fields) + ([] if "." in where
                                          else list(sections))
            close = difflib.get_close_matches(name, choices, n=3)
            hint = (f" (did you mean {' or '.join(map(repr, close))}?)"
                    if close else "")
            raise ConfigError(f"unknown setting {key!r}{hint}", source, line,
                              key)
        cls, field = cls_fields[name]
        if field.name in seen:
            raise ConfigError(
                f"{field.name}: given twice (also as {seen[field.name]!r})",
                source, line, key)
        seen[field.name] = where
        kind, optional = field_type(cls, field)
        try:
            result[field.name] = _convert(value, kind, optional)
        except ValueError as e:
            raise ConfigError(f"{field.name}: {e}", source, line,
                              key) from None

    for key, value in values.items():
        name = str(key).replace("-", "_")
        if isinstance(value, dict) and name in sections and \
                name not in fields:
            cls = sections[name]
            cls_fields = {n: (cls, f) for n, f in field_names(cls).items()}
            for sub_key, sub_value in value.items():
                put(str(sub_key), sub_value, cls_fields, f"{key}.{sub_key}")
        else:
            put(str(key), value, fields, str(key))
    return result


def load_config(path, classes):
    """`coerce_config(load_config_file(path), classes, path)`: a config
    file's values, checked and typed for the fields of `classes`."""
    return coerce_config(load_config_file(path), classes, str(path))


def _yaml_value(value):
    if isinstance(value, tuple):
        return [_yaml_value(v) for v in value]
    if isinstance(value, list):
        return [_yaml_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _yaml_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # paths and the like


def dump_config(*instances, exclude=()):
    """The YAML text `save_config` writes (flat, one commented group per
    dataclass instance; a field name already written is not repeated).

    Args:
        *instances: dataclass instances.
        exclude: field names to leave out. Default none.

    Returns:
        str.
    """
    import yaml  # PyYAML: quotes 'no'/'on', writes 1e-3 as 0.001

    written, parts = set(exclude), []
    for instance in instances:
        group = {}
        for field in dataclasses.fields(instance):
            if field.name in written:
                continue
            written.add(field.name)
            group[field.name] = _yaml_value(getattr(instance, field.name))
        if group:
            parts.append(f"# {type(instance).__name__}\n" + yaml.safe_dump(
                group, sort_keys=False, allow_unicode=True,
                default_flow_style=False))
    return "\n".join(parts)


def save_config(path, *instances, exclude=("run_name",)):
    """Writes the resolved settings of a run as a YAML config file.

    The file reloads (`load_config_file`, or PyYAML's `safe_load`) to the
    same typed values, so `--config <run_dir>/config.yaml` repeats the run.
    Floats are written as floats (`learning_rate: 0.001`) and strings a
    YAML 1.1 loader would misread are quoted (`language: 'no'`). The file
    is written aside and renamed into place (never half-written).

    Args:
        path: str or path-like. The file to write (its folder is created).
        *instances: dataclass instances (e.g. the run's `NerConfig`,
            `TrainingConfig`, `PeftArgs`).
        exclude: field names to leave out. Default `("run_name",)`, so that
            rerunning with the file starts a new run folder instead of
            resuming this one.

    Returns:
        `pathlib.Path`: `path`.
    """
    import pathlib

    from tfllm.utils.atomic import atomic_path

    path = pathlib.Path(path)
    text = ("# Resolved settings of this run (tfllm). Repeat it with "
            "--config FILE;\n# command-line flags override these values.\n"
            + dump_config(*instances, exclude=exclude))
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return path
