"""Report 001: USI Deep Learning Lab 2022/23, Assignment 2 (Luca Pernigo), CIFAR-10 ConvNets.

Source: the report's text only (no code of the author's was found). The readings chosen where it
is silent (the split, the activation, the dropout, the final net's setting, no early stopping) are
in docs/readings.md, "Report 001", which the report's page shows.
"""
