"""allegiance: whose side is this model on?

Every question asked of a model is a recorded, repeatable experiment; every claim is a
statistic over such experiments, with its uncertainty, next to a control.
"""

__version__ = "0.1.0"
