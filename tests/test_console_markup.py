"""Values from parameters, paths and AWS are text in every terminal table, never Rich markup.

A pipeline branch ``hotfix[/]`` read from AWS made ``runbook check`` crash (MarkupError) before
any table was printed. Each table is printed here on a console with markup on, Rich's default.
"""

from __future__ import annotations

import io

from rich.console import Console

from runbook_lib.checks.result import CheckResult, Status, table as check_table
from runbook_lib.terraform.plan import PlanSummary, ResourceChange, table as plan_table
from runbook_lib.validate.findings import Finding, Status as FindingStatus, table as findings_table

ODD = "hotfix[/] [bold]x[/bold] [link=http://e.example]y"


def _printed(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=400, markup=True, color_system=None).print(renderable)
    return out.getvalue()


def test_a_value_that_looks_like_markup_is_printed_as_written_in_every_table():
    check = CheckResult("cd.pipeline.branch", Status.FAIL, f"pipeline {ODD}", "main", ODD, remedy=ODD)
    assert _printed(check_table([check], title=ODD)).count(ODD) >= 3
    change = ResourceChange(f'module.x.aws_s3_bucket.this["{ODD}"]', "aws_s3_bucket", "delete", reason=ODD)
    shown = _printed(plan_table(PlanSummary("ci/web", "/w", "/w/p", "d", (change,))))
    assert ODD in shown and "delete" in shown
    assert ODD in _printed(findings_table([Finding(ODD, ODD, FindingStatus.FAIL, ODD)], title=ODD))
