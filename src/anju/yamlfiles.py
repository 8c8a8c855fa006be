"""YAML reading for the platform's data files and users' files: libyaml's parser where PyYAML was built
with it (the standard, dictionaries and catalogues are read at every start: ~7× faster than the pure-Python
parser), the same safe constructors either way."""

from __future__ import annotations

from typing import IO, Any

import yaml

SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(source: str | bytes | IO[str] | IO[bytes]) -> Any:
    """yaml.safe_load, faster; raises yaml.YAMLError as it does."""
    return yaml.load(source, Loader=SafeLoader)
