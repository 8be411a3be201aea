"""The language as a value: the special forms of every form module, the builtins
that mean more at compile time, and how values other than functions are called.
An evaluator is handed one (`Evaluator(LANGUAGE)`); nothing is registered by
importing a module."""

from __future__ import annotations

from dataclasses import dataclass, field

from .compiler import WorkflowDef, inline_workflow
from .forms import control, core, declarations, modules, steps, sugar


@dataclass(frozen=True)
class Language:
    forms: dict                                        # name -> handler(ev, form, env)
    builtin_hooks: dict = field(default_factory=dict)  # builtin -> handler(ev, args, form)
    appliers: dict = field(default_factory=dict)       # value type -> handler(ev, f, args, form)
    options: dict = field(default_factory=dict)        # form -> its keyword options

    @property
    def special_forms(self) -> list[str]:
        return sorted(self.forms)


LANGUAGE = Language(
    forms={**core.FORMS, **modules.FORMS, **declarations.FORMS, **steps.FORMS,
           **control.FORMS, **sugar.FORMS},
    builtin_hooks=dict(control.BUILTIN_HOOKS),
    appliers={WorkflowDef: inline_workflow},
    options={**declarations.OPTIONS, **steps.OPTIONS, **control.OPTIONS,
             "import": modules.IMPORT_OPTIONS})
