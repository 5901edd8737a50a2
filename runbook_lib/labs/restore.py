"""Putting the applied state back, step by step, with the runbook's own commands (through the engine).

``reset`` runs a lab's restore steps; they are also what the lab documents as its fix.
Every step works on the sandbox only: the engine is made for the sandbox target here,
whatever flags were given (other targets were refused before).
"""

from __future__ import annotations

from typing import Callable

from ..results import DONE
from .catalog import Lab
from .context import SANDBOX, LabContext, LabError

Say = Callable[[str], None]


def _engine(ctx: LabContext, say: Say):
    from ..engine import Engine, Settings

    return Engine(Settings(ctx.org, ctx.app, target=SANDBOX, out=ctx.out, auto_approve=True), sink=say)


def _apply(kind: str):
    def step(ctx: LabContext, details: dict, say: Say) -> str:
        result = _engine(ctx, say).run_root(kind)
        if result.outcome not in DONE:
            raise LabError(f"restoring the {result.root} root stopped at {result.step}: {result.reason}")
        return f"{result.root}: {result.outcome.value}" + (f" ({result.headline})" if result.headline else "")
    return step


def _seed(ctx: LabContext, details: dict, say: Say) -> str:
    from ..sandbox.seed import seed

    created = seed(ctx.org, ctx.endpoint).created
    return "seeded " + (", ".join(created) if created else "nothing (all there)")


def _handshake(ctx: LabContext, details: dict, say: Say) -> str:
    from ..sandbox.console import complete_handshake

    done = complete_handshake(ctx.ops, ctx.org.region, ctx.org.codestar_connection_name, endpoint=ctx.endpoint)
    return f"connection {done.name} is {done.status}"


def _unlock(ctx: LabContext, details: dict, say: Say) -> str:
    from .injectors import PROBES

    if not PROBES["state_lock"](ctx, details):
        return f"the state of {details['root']} holds no lock"
    _engine(ctx, say).unlock(details["root"], details["lock_id"])
    return f"lock {details['lock_id']} of {details['root']} released"


def _render(ctx: LabContext, details: dict, say: Say) -> str:
    report = _engine(ctx, say).render(force=True)
    return f"rendered; overwrote {', '.join(report.forced) or 'no hand-edited file'}"


STEPS: dict[str, Callable[[LabContext, dict, Say], str]] = {
    "seed": _seed, "handshake": _handshake, "unlock": _unlock, "render": _render,
    "apply:cicd-common": _apply("cicd-common"), "apply:ci": _apply("ci"), "apply:cd": _apply("cd"),
}


def restore(ctx: LabContext, lab: Lab, details: dict, say: Say) -> list[str]:
    return [STEPS[step](ctx, details, say) for step in lab.restore]
