"""Input and output safety shared by every layer: the bottom of the stack.

Nothing here imports another osdsim package; only the standard library and PyYAML.

- :mod:`osdsim.safe.text`: error messages that quote at most a short prefix of a value;
- :mod:`osdsim.safe.numbers`: finite, in range, of the right type (scenarios, cards, traces, the CLI);
- :mod:`osdsim.safe.loaders`: YAML with bounded depth and alias expansion (and YAML 1.2 floats
  such as ``1e3``), JSON and TOML with bounded depth;
- :mod:`osdsim.safe.atomic`: outputs written to a temporary file or folder beside the target,
  synced and renamed into place, so a killed writer leaves the old output or the new one;
- :mod:`osdsim.safe.lock`: one writer per output (``fcntl.flock`` on a sidecar ``<path>.lock``);
- :mod:`osdsim.safe.procs`: signals turned into clean exits, worker processes that end with
  their parent.

Every error raised here is an :class:`InputError` (a ``ValueError``) whose message is one sentence.
"""

from osdsim.safe.atomic import (
    atomic_dir,
    atomic_file,
    check_out_dir,
    check_out_path,
    write_text_atomic,
)
from osdsim.safe.loaders import load_json, load_toml, load_yaml
from osdsim.safe.lock import LockedError, OutputLock, locked
from osdsim.safe.numbers import (
    InputError,
    check_int,
    check_number,
    finite_float,
    float_range,
    int_range,
)
from osdsim.safe.text import one_line, short

__all__ = [
    "InputError", "LockedError", "OutputLock", "atomic_dir", "atomic_file", "check_int", "check_number",
    "check_out_dir", "check_out_path", "finite_float", "float_range", "int_range", "load_json", "load_toml", "load_yaml",
    "locked", "one_line", "short", "write_text_atomic",
]
