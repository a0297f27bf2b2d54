"""The attack corpus: each module here is the source of one notebook cell that tries to cheat or break out.

``tests/test_attacks.py`` appends each as an extra (solution) cell to an honest
notebook, grades the whole class once with the real coordinator, and checks
that no attack earned more than its honest twin or disturbed anything else.
An attack prints ``ATTACK-SUCCESS: ...`` for whatever it managed and
``ATTACK-DONE`` when it ran to its end (attacks that hang never print it).
"""
