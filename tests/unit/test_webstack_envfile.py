"""
Unit tests of app.env's codec (``_utils/webstack_envfile.py``): every mapping that the
pillar's grammar accepts is written and read back exactly, by the codec's own reader and
by ``str.splitlines()`` (how other readers split a file), and nothing else is accepted.
"""

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.config import schema_util
from tests.support.loader import load

envfile = load("utils", "webstack_envfile")


def _by_splitlines(text):
    """A reader that splits on every line break Python knows (as the entry did before)."""
    found = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name and not name.startswith("#"):
            found[name] = value
    return found


def _round_trip(settings):
    text = envfile.encode(settings, header="# a header\n")
    expected = {name: str(value) for name, value in settings.items()}
    assert envfile.decode(text) == expected
    assert _by_splitlines(text) == expected
    return text


def test_every_code_point_is_refused_or_reads_back_exactly():
    """An exhaustive pass over Unicode: a value with the character inside it is accepted only
    when both readers give it back as it was; each line break that splitlines() knows is
    refused."""
    refused = []
    for code in range(sys.maxunicode + 1):
        value = f"a{chr(code)}b"
        if envfile.valid_value(value):
            text = f"NAME={value}\n"
            assert envfile.decode(text) == {"NAME": value} == _by_splitlines(text), hex(code)
        else:
            refused.append(code)
    for char in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        assert ord(char) in refused
        assert len(f"a{char}b".splitlines()) == 2  # what it would have been: two lines
    # controls (C0, DEL, C1), the two separators and the surrogates, nothing else
    assert len(refused) == 32 + 1 + 32 + 2 + 2048


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True),
                       st.one_of(st.text(max_size=40), st.integers(), st.booleans()), max_size=8))
def test_any_mapping_the_grammar_accepts_reads_back_exactly(mapping):
    accepted = {name: value for name, value in mapping.items()
                if schema_util.valid("env_name", name) and schema_util.valid("env_value", value)}
    _round_trip(accepted)
    rejected = {name: value for name, value in mapping.items() if name not in accepted}
    for name, value in rejected.items():
        with pytest.raises(ValueError, match=name):
            envfile.encode({name: value})


@pytest.mark.parametrize("value", ["a\u2028DJANGO_DEBUG=1", "a\u2029PATH=/tmp", "a\x85DATABASE_URL=x", "a\x0bB=1",
                                   "a\x0cB=1", "a\x1cB=1", "a\x1dB=1", "a\x1eB=1", "a\rB=1", "a\nB=1", "\x00",
                                   "'quoted'", "x" * 8193, "\ud800"])
def test_a_value_that_a_reader_would_split_or_change_is_refused(value):
    assert not schema_util.valid("env_value", value)
    with pytest.raises(ValueError, match="setting FEATURE: expected a single-line value"):
        envfile.encode({"FEATURE": value})


@pytest.mark.parametrize("name", ["PYTHONPATH", "PYTHONSTARTUP", "PYTHONWARNINGS", "PYTHONHOME", "LD_PRELOAD",
                                  "LD_LIBRARY_PATH", "LD_AUDIT", "GLIBC_TUNABLES", "PATH", "HOME", "IFS", "ENV",
                                  "BASH_ENV", "NODE_OPTIONS", "PERL5OPT", "VIRTUAL_ENV", "GCONV_PATH"])
def test_a_name_that_chooses_what_a_program_loads_is_refused(name):
    assert not schema_util.valid("env_name", name)
    assert envfile.reserved(name)
    with pytest.raises(ValueError, match=f"setting '{name}': expected an UPPER_CASE variable name, and not one"):
        envfile.encode({name: "x"})
    # and a file that has it anyway (a hand edit) gives it to no reader of the codec
    assert envfile.decode(f"{name}=/srv/webapp/shared/media\nOTHER=1\n") == {"OTHER": "1"}


@pytest.mark.parametrize("name", ["DJANGO_DEBUG", "SENTRY_DSN", "LD", "PATHS", "HOMEPAGE_URL", "MALLOC_ARENA_MAX",
                                  "LANG", "TZ"])
def test_ordinary_names_are_settings(name):
    assert envfile.valid_name(name) and schema_util.valid("env_name", name)


def test_sizes_stay_well_under_the_kernels_limits():
    """128 KiB is the most one variable may hold for an exec, about 2 MiB all of them."""
    assert envfile.valid_value("é" * 4096) and not envfile.valid_value("é" * 4097)  # bytes, not characters
    assert envfile.MAX_VALUE_BYTES * 16 <= 128 * 1024 and envfile.MAX_TOTAL_BYTES * 32 <= 2 * 1024 * 1024
    many = {f"S{i}": "v" * 8000 for i in range(9)}
    with pytest.raises(ValueError, match="expected at most 65536"):
        envfile.encode(many)


def test_the_reader_takes_the_value_to_the_end_of_its_line_as_it_is(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("# comment=1\nA=b=c\nEMPTY=\nSPACES= x \nQUOTE_INSIDE=it's\nnot a setting\n")
    assert envfile.read(str(path)) == {"A": "b=c", "EMPTY": "", "SPACES": " x ", "QUOTE_INSIDE": "it's"}
    assert envfile.read(str(tmp_path / "missing")) == {}
