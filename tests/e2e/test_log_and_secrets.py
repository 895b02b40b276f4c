"""What the server writes about itself: its log cannot be forged through
names, and the generated admin password is not in it.

The log is read where an operator reads it: the harness keeps the
process's standard output and standard error in one file, as a service
manager's journal would."""

import os
import stat

import pytest

from conftest import Stack, parse_rc

pytestmark = pytest.mark.cli


def test_a_project_named_with_a_newline_cannot_forge_a_log_line(stack):
    stack.openstack("project", "create", "x\nFAKE LINE")
    log = stack.log()
    assert not [line for line in log.splitlines() if line.startswith("FAKE")], log
    # The name is in the log all the same, escaped on its one line.
    assert r"x\nFAKE LINE" in log, log


def test_the_generated_admin_password_is_only_in_the_private_rc_file(tmp_path):
    s = Stack(tmp_path)
    s.admin_password = None
    try:
        s.start()
        rc = s.data_dir / "keystonerc_admin"
        password = parse_rc(rc)["OS_PASSWORD"]
        assert len(password) >= 16
        assert stat.S_IMODE(os.stat(rc).st_mode) == 0o600
        s.openstack("token", "issue")
        log = s.log()
        assert password not in log, "the generated password is in the output"
        assert f"written to {rc}" in log, log
    finally:
        s.stop()
        s.reap_vms()
