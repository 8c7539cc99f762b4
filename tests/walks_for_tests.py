"""Reference walks for the vectorised token walks of :mod:`structgen.index`: every token
stepped byte by byte through a DFA, and the exits of a ``LexInfo`` as a set."""

from __future__ import annotations


def brute_walk(dfa, q: int, va, positions=None, skip=None, maximal: bool = False) -> tuple:
    """Token by token from DFA state ``q`` over the tokens of ``va`` at ``positions``
    (all by default) but those at ``skip``: ``(inside, exits)``, the positions read
    entirely and the exits ``(position, offset, byte at the offset)`` where the terminal
    may end before a byte (for a ``maximal`` match, only before a byte that does not
    continue it)."""
    skipped = set() if skip is None else set(skip.tolist())
    rows: dict[int, list] = {}
    inside, exits = set(), set()
    for p in range(len(va.data)) if positions is None else positions:
        if p in skipped:
            continue
        s = q
        for o, c in enumerate(va.data[p]):
            row = rows.get(s)
            if row is None:
                row = rows[s] = dfa.build(s)
            if o and dfa.acc[s] and not (maximal and row[c]):
                exits.add((p, o, c))
            s = row[c]
            if not s:
                break
        else:
            inside.add(p)
    return inside, exits


def exit_set(info) -> set:
    """The exits of a ``LexInfo`` as ``(position, offset, byte)`` triples."""
    return {
        (p, o, f)
        for pos, off, first in info.exits
        for p, o, f in zip(pos.tolist(), off.tolist(), first.tolist(), strict=True)
    }
