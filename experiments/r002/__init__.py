"""Report 002: Sapienza AML 2021/22, HW2 (Capparella, Penta de Peppo, Zappia), CNN_5 and VGG11_bn on CIFAR-10.

Sources: the report's text and figures, the assignment, and the authors' own code and commits.
The readings chosen where the report is silent (CNN_5, the setting, early stopping, the VGG head)
and the quirks of the authors' code kept because they change its numbers (validation through the
training transform, a 1,000-image test, the loss scale) are in docs/readings.md, "Report 002",
which the report's page shows. The transforms: augmentations.py.
"""
