"""Running things isolated, and recording what they tried to reach.

:func:`allegiance.sandbox.egress.run_isolated` runs a command in fresh namespaces whose
only network interface is loopback and records, with strace, every destination it tried.
Imported lazily: nothing here runs until a sandboxed command is asked for.
"""
