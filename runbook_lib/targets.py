"""Choosing a target: live from the render package, the sandbox from beside its emulator.

It sits above both so that rendering never imports the sandbox: the sandbox target
plugs into the renderer from here.
"""

from __future__ import annotations

from .render.targets import LiveTarget, Target


def make_target(target: Target | str, **options):
    target = Target(target)
    if target is Target.live:
        return LiveTarget()
    from .sandbox.target import SandboxTarget

    return SandboxTarget(**options)
