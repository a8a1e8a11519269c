"""Report 004: NTNU TDT4265 2019, Assignment 2 (Martin Madsen, Sondre A. Bergum), CIFAR-10.

Sources: the report's text, and the course's 2019 starter code for what it takes for granted. The
readings chosen (the split and normalization, the starter's loop, kernel sizes and initialization,
which ResNet18 layers train, which value is "final") are in docs/readings.md, "Report 004", which
the report's page shows.
"""
