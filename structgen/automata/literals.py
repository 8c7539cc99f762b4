"""Large alternations of literal terminals, merged into a few terminals (tries).

A rule such as ``start: "v0" | "v1" | ... | "v4999"`` in token mode (longest-match
lexing, or an ``%ignore``) has one terminal per literal: as many DFAs, vocabulary walks
and parser elements in every configuration, so compiling and each step cost the number
of literals. One terminal for their union is a trie (its derivatives share the common
prefixes), with the same texts, as long as reading it by longest match changes nothing: a
word of the union may not be continued by the union where a word alone could end. A
literal alone is never continued; in the union, a word is continued exactly when it is a
proper prefix of another word. So the literals are grouped into prefix-free layers (no
word of a layer a proper prefix of another of that layer), and each layer is one terminal.
"""

from __future__ import annotations

from .. import deadline


def prefix_free_layers(words: list[bytes]) -> list[list[int]]:
    """Indices of ``words`` (distinct) grouped into layers, each prefix-free: the words
    that are a proper prefix of no other word, then those of what is left, and so on.
    ``O(n log n)``: sorted, a word is a proper prefix of another exactly when it is one
    of the word that follows it."""
    order = sorted(range(len(words)), key=words.__getitem__)
    layers: list[list[int]] = []
    while order:
        deadline.check()
        top, rest = [], []
        for k, i in enumerate(order):
            nxt = words[order[k + 1]] if k + 1 < len(order) else None
            if nxt is not None and nxt.startswith(words[i]):
                rest.append(i)
            else:
                top.append(i)
        layers.append(top)
        order = rest
    return layers
