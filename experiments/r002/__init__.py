"""Report 002 (Sapienza AML 2021/22, HW2: CNN_5 and VGG11_bn on CIFAR-10): its transforms."""
