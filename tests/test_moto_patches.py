"""The moto patches the sandbox server applies are still needed, and still work.

No network and no Terraform runs here: moto runs in-process.
"""

from __future__ import annotations

import pytest

from runbook_lib.sandbox import moto_patches

PATCH_NAMES = [patch.name for patch in moto_patches.PATCHES]


@pytest.fixture
def restore_patches():
    """Leave the process's moto patched exactly as the test found it."""
    pytest.importorskip("moto", reason="moto (the sandbox extra) is not installed")
    before = moto_patches.applied()
    yield
    moto_patches.revert()
    moto_patches.apply(before)


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_moto_bug_still_present(name, restore_patches):
    import moto

    patch = next(p for p in moto_patches.PATCHES if p.name == name)
    assert moto_patches.bug_present(name), (
        f"moto {moto.__version__} no longer has the bug behind the sandbox patch "
        f"{name!r} ({patch.bug}). Remove that patch from "
        f"runbook_lib/sandbox/moto_patches.py (and this test's expectation)."
    )


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_moto_behaves_like_aws_once_patched(name, restore_patches):
    moto_patches.apply()
    assert moto_patches.behaves_like_aws(name), f"patch {name!r} does not fix what it says"


def test_apply_is_idempotent_and_revertible(restore_patches):
    def stored_now():
        return {p.name: moto_patches._stored(p.owner(), p.attribute) for p in moto_patches.PATCHES}

    moto_patches.revert()
    stored = stored_now()
    moto_patches.apply()
    first = stored_now()
    moto_patches.apply()
    second = stored_now()
    assert first == second
    assert all(first[name] is not stored[name] for name in PATCH_NAMES)
    assert moto_patches.applied() == PATCH_NAMES
    with moto_patches.unpatched():
        assert moto_patches.applied() == []
        assert stored_now() == stored
    assert moto_patches.applied() == PATCH_NAMES
    moto_patches.revert()
    moto_patches.revert()
    assert stored_now() == stored


def test_patches_are_documented():
    for patch in moto_patches.PATCHES:
        assert patch.bug.strip() and patch.fix.strip(), patch.name
    assert len(set(PATCH_NAMES)) == len(PATCH_NAMES)
    with pytest.raises(KeyError, match="no moto patch named"):
        moto_patches.bug_present("no-such-patch")


def test_named_probes_cover_every_patch():
    named = [n for n in dir(moto_patches) if n.startswith("bug_present_")]
    assert len(named) == len(PATCH_NAMES)
