"""Peak resident memory, measured so that each attack reports its own.

``ru_maxrss`` is not enough on Linux: a child started from a large process (a test run
that has loaded the model) inherits the parent's high-water mark through fork and exec,
so every child would report the parent's size. ``VmHWM`` in ``/proc/self/status`` belongs
to the process's own address space, which exec replaces; and writing ``5`` to
``/proc/self/clear_refs`` resets it, so an attack run inside the test process can be
measured from a clean mark. Elsewhere (no ``/proc``) ``ru_maxrss`` is the fallback.
"""

from __future__ import annotations

# the same function, as source, for the children the tests start with ``python -c``
SOURCE = """
def peak_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource, sys
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024
"""

exec(SOURCE)  # defines peak_bytes() here too


def reset_peak() -> bool:
    """Reset this process's high-water mark to its current size (Linux); False when the
    system cannot, and :func:`peak_bytes` then includes what ran before."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# a prefix for ``python -c`` code: at exit, the process's peak goes to the file named by
# STRUCTGEN_TEST_PEAK_FILE (for commands whose stdout and stderr are under test)
AT_EXIT = (
    SOURCE
    + """
import atexit as _atexit, os as _os
if _os.environ.get("STRUCTGEN_TEST_PEAK_FILE"):
    _atexit.register(lambda: open(_os.environ["STRUCTGEN_TEST_PEAK_FILE"], "w").write(
        str(peak_bytes())))
"""
)
