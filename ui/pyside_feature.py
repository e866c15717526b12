"""PySide6's check of each imported module, made cheap.

Once PySide6 is imported, every module imported after it is checked for PySide6's `__feature__`
switches (snake_case, true_property): `shibokensupport.feature._mod_uses_pyside` reads the
module's whole source through `inspect.getsource`, only to see whether the word "PySide6" is in
it. That is 0.2 ms a module, 15-22 ms over the 93 modules the window's start imports
(bench/README.md). Asking the same of the file's bytes gives the same answer in a tenth of the
time. Where a PySide6 release no longer has that function, nothing is changed.
"""
from __future__ import annotations

import sys


def quick_feature_check() -> bool:
    """Import PySide6 and put the quicker check in place; True if it is in place."""
    import PySide6.QtCore  # noqa: F401  (loads the module whose function this replaces)

    feature = sys.modules.get("shibokensupport.feature")
    slow = getattr(feature, "_mod_uses_pyside", None)
    if slow is None:
        return False
    if getattr(slow, "quick", False):  # in place already
        return True

    def check(module) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                pass
        return slow(module)  # no source file of its own: PySide6's answer

    check.quick = True
    feature._mod_uses_pyside = check
    return True
