"""Report 003: Boğaziçi CMPE 597 Deep Learning, Spring 2021, Project II: a three-block CNN on CIFAR-10.

Sources: the report's text, and a training and a test script that match it, used only where it is
silent. The readings chosen where the report is silent or the script differs from its intent (the
split, normalization, padding, dropout, early stopping, eval mode, the shared rows, the t-SNE) are
in docs/readings.md, "Report 003", which the report's page shows. The identical rows of the
report's table are shared runs: each step's docstring names them.
"""
