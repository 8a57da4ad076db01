"""The README's table of methods and scopes is generated from the protos and kept fresh."""

from __future__ import annotations

from pathlib import Path

from bullseye_devtools import scopes


def test_the_readmes_table_matches_the_protos() -> None:
    """Fails when a proto's scope (or a method) changed without `python -m bullseye_devtools.scopes`."""
    assert scopes.main(["--check"]) == 0


def test_a_stale_table_is_reported_then_regenerated(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    fresh = scopes.README.read_text()
    readme.write_text(fresh.replace("| `GetContact` | unary | `contacts:read` |", "| `GetContact` | unary | `open` |"))

    assert scopes.main(["--check", "--readme", str(readme)]) == 1
    assert scopes.main(["--readme", str(readme)]) == 0
    assert readme.read_text() == fresh


def test_every_method_of_the_protos_has_a_row() -> None:
    rows = scopes.table().splitlines()[2:]

    assert len(rows) == sum(len(service.methods) for service in scopes.services())
    assert "| IdentityService | `GetContact` | unary | `contacts:read` | yes |" in rows
