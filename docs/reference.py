"""
Write the generated part of docs/pillar.md (between its markers) from the roles,
salt/webstack/parameters/roles.yaml, and the schema, salt/webstack/parameters/schema.yaml:
`make docs`. A unit test fails when they disagree.
"""

import importlib.util
import pathlib
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "pillar.md"
BEGIN = "<!-- generated from salt/webstack/parameters/{roles,schema}.yaml by `make docs`: do not edit below -->\n"
END = "<!-- end of the generated reference -->\n"


def generated():
    spec = importlib.util.spec_from_file_location("webstack_schema", REPO / "_utils" / "webstack_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parameters = REPO / "salt" / "webstack" / "parameters"
    schema = yaml.safe_load((parameters / "schema.yaml").read_text())
    registry = module.role_registry(yaml.safe_load((parameters / "roles.yaml").read_text()), schema)
    return ("### Roles\n\n" + module.roles_reference(registry) + "\n"
            + module.reference(module.with_roles(schema, registry)))


def render(text):
    """``text`` (docs/pillar.md) with its generated part made anew."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + BEGIN + generated() + END + tail


if __name__ == "__main__":
    new = render(DOC.read_text())
    if "--check" in sys.argv:
        sys.exit(0 if new == DOC.read_text() else "docs/pillar.md differs from the schema: run `make docs`")
    DOC.write_text(new)
