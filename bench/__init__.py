"""The kit's speed benchmark: ``make bench`` (``python -m bench``) grades generated submissions with the kit
and with ``nbgrader autograde`` in one run and prints per student × assignment times, ratios and peak memory.

Modules: ``cli`` (the command), ``course`` (a throwaway nbgrader course and its submissions), ``mistakes``
(plausible wrong solution cells), ``kit_driver`` / ``nbgrader_driver`` / ``isolation`` (each measured in its
own process), ``procmem`` (peak memory of a process tree from /proc), ``report`` (statistics, targets, tables).
"""
