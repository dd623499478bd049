"""
The app's settings file (``app.env``): its one codec. The file's writer (the
``app.env`` template, through ``webstack_config``), its readers (the app's entry,
which holds a copy of this file's text, and ``webstack_release``, which gives a
release's commands the same environment) and the pillar's grammar for a setting
(``env_name`` and ``env_value`` in ``webstack_schema``) all use it, so that what
the validation accepts is what every reader reads back, character for character.

The format: UTF-8 text, one ``NAME=VALUE`` per line, each line ended by ``\\n``; the
value runs to the end of its line and is taken as it is (no quotes, no escapes, no
expansion); a line that starts with ``#`` is a comment.

- A value holds no character that any reader could take for the end of a line:
  ``str.splitlines()`` also splits on ``\\r``, ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``,
  ``\\x85``, U+2028 and U+2029 (a value with one of them would read back as two
  settings, the second of the writer's choosing). No control character at all
  (C0, DEL, C1) and no lone surrogate, which UTF-8 cannot encode. It does not start
  or end with a quote, which dotenv-style readers strip.
- A name is an upper-case variable name, and never one that changes how a program
  is loaded or which code it runs (:py:data:`RESERVED`): the app's processes and
  the formula's commands take their interpreter, their libraries and their search
  path from the formula, never from a setting.
- Sizes stay well under the kernel's limits for an ``exec`` (128 KiB per variable,
  about 2 MiB for all of them with the arguments): :py:data:`MAX_VALUE_BYTES` per
  value, :py:data:`MAX_TOTAL_BYTES` for the file.

Nothing here imports Salt: the app's entry loads this file as it is.
"""

import re

# Everything that some reader of a text file ends a line at (str.splitlines: \n, \r,
# \x0b, \x0c, \x1c, \x1d, \x1e, \x85, U+2028, U+2029), with the other controls
_FORBIDDEN_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAME_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
# Names that choose what a process loads or runs: the interpreter's (PYTHONPATH,
# PYTHONSTARTUP, PYTHONWARNINGS imports a category's module, PYTHONHOME...), the dynamic
# loader's and glibc's, the search path, the shells' start-up files and word splitting,
# and the other interpreters a build may start
RESERVED_PREFIXES = ("PYTHON", "LD_", "GLIBC_", "BASH_FUNC_", "PERL5", "RUBY", "NODE_")
RESERVED = ("PATH", "HOME", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "GCONV_PATH", "LOCPATH",
            "NLSPATH", "PERLLIB", "VIRTUAL_ENV", "SHELL")
MAX_VALUE_BYTES = 8192
MAX_TOTAL_BYTES = 65536
NAME_FORM = ("an UPPER_CASE variable name, and not one that chooses what a program loads or runs "
             "(PYTHON*, LD_*, PATH, HOME, IFS, ...)")
VALUE_FORM = (f"a single-line value of printable characters (no control character, no U+2028 or U+2029), "
              f"at most {MAX_VALUE_BYTES} bytes, that does not start or end with a quote")


def reserved(name):
    """Whether ``name`` chooses what a program loads or runs (:py:data:`RESERVED`)."""
    return name in RESERVED or name.startswith(RESERVED_PREFIXES)


def valid_name(name):
    """A name that a setting may have."""
    return isinstance(name, str) and _NAME_RE.fullmatch(name) is not None and not reserved(name)


def valid_value(value):
    """A value (text, or a number as text) that every reader reads back as it was written."""
    if not isinstance(value, (str, int, float)):  # a bool is an int: True is written True
        return False
    text = str(value)
    return (_FORBIDDEN_RE.search(text) is None and len(text.encode()) <= MAX_VALUE_BYTES
            and text[:1] not in ("'", '"') and text[-1:] not in ("'", '"'))


def operator_limit():
    """The bytes that the operator's own settings may take: the file's limit, less room for
    the formula's."""
    return MAX_TOTAL_BYTES - MAX_VALUE_BYTES


def size(settings):
    """The bytes that ``settings`` take in the file (and in a process's environment)."""
    return sum(len(f"{name}={value}\n".encode()) for name, value in settings.items())


def encode(settings, header=""):
    """The file's text for ``settings`` (name -> value), after ``header`` (comment lines).
    Raises ValueError, naming the setting, for one that :py:func:`decode` would not read
    back exactly."""
    lines = [header] if header else []
    for name, value in settings.items():
        if not valid_name(name):
            raise ValueError(f"setting {name!r}: expected {NAME_FORM}")
        if not valid_value(value):
            raise ValueError(f"setting {name}: expected {VALUE_FORM}")
        lines.append(f"{name}={value}\n")
    if size(settings) > MAX_TOTAL_BYTES:
        raise ValueError(f"the settings take {size(settings)} bytes: expected at most {MAX_TOTAL_BYTES}")
    return "".join(lines)


def decode(text):
    """The settings of the file's text. A line that the writer would not have written
    (a reserved or malformed name, a value with a control character) is left out."""
    settings = {}
    for line in text.split("\n"):
        name, sep, value = line.partition("=")
        if sep and valid_name(name) and _FORBIDDEN_RE.search(value) is None:
            settings[name] = value
    return settings


def read(path):
    """The settings of the file at ``path``; a missing file has none."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return decode(handle.read())
    except FileNotFoundError:
        return {}
