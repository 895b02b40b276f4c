"""The seed's session, command for command, as an operator types it after
`source keystonerc_admin`: default (table) output, no `-f` options."""

import pytest

from conftest import table_rows

pytestmark = [pytest.mark.seed, pytest.mark.cli]


def project_names(stack) -> list[str]:
    rows = table_rows(stack.openstack("project", "list").stdout)
    assert rows and rows[0] == ["ID", "Name"], f"unexpected table header: {rows[:1]}"
    return [row[1] for row in rows[1:]]


def test_seed_session(stack):
    stack.openstack("project", "create", "myproject")
    assert "myproject" in project_names(stack)

    stack.nova("quota-update", "--cores", "30", "myproject")

    quota = stack.openstack("quota", "show", "myproject").stdout
    assert ["cores", "30"] in table_rows(quota), quota

    stack.openstack("project", "delete", "myproject")
    assert "myproject" not in project_names(stack)
