"""Long values in the HTML tables wrap at their separators, never inside an account number or a name.

Laid out by a real Chromium (plain page, no JupyterLab) at many widths: the account
numbers of an ARN, and each word of the role name, stay on one line whatever the window width.
"""

from __future__ import annotations



from runbook_lib import htmltable as h
from runbook_lib.checks.result import CheckResult, Status, to_html

ARN = "arn:aws:iam::222222222222:role/acme-staging-deployment-role"


def test_a_long_token_gets_break_points_after_its_separators_and_stays_escaped():
    assert h.text(ARN) == ("arn:<wbr>aws:<wbr>iam:<wbr>:<wbr><span style=\"white-space:nowrap\">222222222222</span>:<wbr>"
                           "role/<wbr>acme-staging-deployment-role")
    assert h.text("(111111111111) 12345") == '(<span style="white-space:nowrap">111111111111</span>) 12345'
    assert h.text("<123456>") == '&lt;<span style="white-space:nowrap">123456</span>&gt;'   # escaped first
    assert h.text("a <b> & short:one") == "a &lt;b&gt; &amp; short:one"   # short tokens are left whole
    assert h.text("x=" + "<" * 30) == "x=<wbr>" + "&lt;" * 30              # markup in a long token stays escaped


# (root element, pieces) => for each piece of text under root, on how many lines the browser laid it out
LINES_OF = """(root, pieces) => {
    const lines = {};
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const piece of pieces) {
            const at = node.textContent.indexOf(piece);
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + piece.length);
            const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            lines[piece] = Math.max(lines[piece] || 0, tops.size);
        }
    }
    return lines;
}"""


def _pieces_on_one_line(page, pieces: list[str]) -> dict[str, int]:
    """For each piece of text in the page, on how many lines the browser laid it out."""
    return page.evaluate(f"pieces => ({LINES_OF})(document.body, pieces)", pieces)


def test_an_arn_in_a_check_table_never_wraps_inside_an_account_number_or_a_word(chromium_path):
    from playwright.sync_api import sync_playwright

    result = CheckResult("cd.deploy-role.trust", Status.FAIL, f"role {ARN}", ARN,
                         f"{ARN} trusted by arn:aws:iam::111111111111:root", "Fix the trust.", "")
    table = to_html([result], "Checks")
    pieces = ["222222222222", "111111111111", "deployment"]   # a name may wrap at its hyphens, not inside a word
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_content(f"<html><body style='font-family:sans-serif;font-size:14px'>{table}</body></html>")
            wrapped_somewhere = False
            for width in range(360, 1200, 9):
                page.set_viewport_size({"width": width, "height": 800})
                lines = _pieces_on_one_line(page, pieces)
                assert lines.keys() == set(pieces), lines
                assert all(n == 1 for n in lines.values()), (width, lines)
                wrapped_somewhere |= page.evaluate(
                    "() => [...document.querySelectorAll('td')].some(td => td.getClientRects()[0].height > 40)")
            assert wrapped_somewhere   # the widths tried did make the long values wrap
        finally:
            browser.close()


# JupyterLab's own text font and size for rendered HTML (its --jp-ui-font-family and --jp-ui-font-size1)
JUPYTERLAB_TEXT = "font-family:system-ui,-apple-system,'Segoe UI',helvetica,arial,sans-serif;font-size:13px"


def test_a_short_account_number_stays_whole_in_a_column_squeezed_to_its_floor(chromium_path):
    """As in JupyterLab: its font, a standards-mode page, and a check table whose ids take the width."""
    from playwright.sync_api import sync_playwright

    results = [CheckResult("common.artifact-bucket.versioning", Status.PASS,
                           "s3 bucket acme-cicd-artifacts in operations (111111111111)", "Enabled", "Enabled"),
               CheckResult("common.connection.status", Status.FAIL,
                           "codestar connection acme-github in operations (222222222222)", "AVAILABLE", "PENDING",
                           "Complete the GitHub handshake: AWS console > Developer Tools > Settings > Connections.")]
    table = to_html(results, "postflight common")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 800, "height": 800})
            page.set_content(f"<!DOCTYPE html><html><body style=\"{JUPYTERLAB_TEXT}\">{table}</body></html>")
            for width in range(360, 1200, 20):
                page.set_viewport_size({"width": width, "height": 800})
                lines = _pieces_on_one_line(page, ["111111111111", "222222222222"])
                assert lines == {"111111111111": 1, "222222222222": 1}, (width, lines)
        finally:
            browser.close()
