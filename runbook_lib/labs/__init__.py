"""Training labs: one fault injected into the sandbox, found with the suite's checks and fixed with its commands.

``catalog`` holds the labs as data; ``injectors`` puts each fault in and probes for it;
``identities`` tells a repaired resource from one deleted and created anew; ``grading``
applies the rules; ``restore`` puts the applied state back; ``progress`` keeps a
trainee's file; ``report`` writes the trainer's page; ``trainer`` is what the CLI calls.
"""

from __future__ import annotations

from .catalog import LABS, Lab, find
from .context import LabError, Where
from .grading import Grade
from .trainer import Hint, Listed, Reset, Started, check, hint, listing, reset, start

__all__ = ["LABS", "Grade", "Hint", "Lab", "LabError", "Listed", "Reset", "Started", "Where", "check", "find", "hint",
           "listing", "reset", "start"]
