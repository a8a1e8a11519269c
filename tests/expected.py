"""Every step's trainable parameters, computed by hand from the layers its report lists.

Report 000's from its algorithms 1-8 and torchvision's published ResNet18 size; report 001's from
the layers in its sections 1.2.1 and 1.3.7, report 002's from its CNN_5 and VGG11_bn, report 003's
from its layer table, report 004's from its text (docs/readings.md). One entry per step of every
report: tests/test_models.py checks each against the network the step builds.
"""


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def fc(n_in, n_out):
    return n_in * n_out + n_out


def bn(c):
    return 2 * c  # weight and bias; running statistics are buffers, not parameters


def simple_cnn(w, fc_units=4096, batch_norm=False):
    """The report's CNN2-family layer list, counted by hand."""
    convs = conv(3, w[0], 5) + conv(w[0], w[1], 3) + conv(w[1], w[2], 3) + conv(w[2], w[3], 3)
    norms = sum(bn(c) for c in w) if batch_norm else 0
    return convs + norms + fc(w[3] * 4 * 4, fc_units) + fc(fc_units, 100)


# 001-A: conv 3-32, 32-32, 32-64, 64-64 (3x3, unpadded), fc 64*5*5 -> 512 -> 10. Dropout has none.
R001_A = conv(3, 32, 3) + conv(32, 32, 3) + conv(32, 64, 3) + conv(64, 64, 3) + fc(1600, 512) + fc(512, 10)
# 001-B: pairs of padded 3x3 convs 32, 64, 128, 256; four pools take 32 to 2: fc 256*2*2 -> 512 -> 10.
R001_B = (conv(3, 32, 3) + conv(32, 32, 3) + conv(32, 64, 3) + conv(64, 64, 3) + conv(64, 128, 3)
          + conv(128, 128, 3) + conv(128, 256, 3) + conv(256, 256, 3) + fc(1024, 512) + fc(512, 10))
# 002 CNN_5: padded 3x3 convs 128, 512, 512, 512, 512, five pools take 32 to 1: fc 512 -> 10.
R002_CNN5 = (conv(3, 128, 3) + conv(128, 512, 3) + 3 * conv(512, 512, 3) + fc(512, 10))
R002_CNN5_BN = R002_CNN5 + bn(128) + 4 * bn(512)
assert (R002_CNN5, R002_CNN5_BN) == (7_678_474, 7_682_826)  # the report's Fig. 2
# VGG11_bn features: 3x3 convs 64, 128, 256, 256, 512 x4, each with BN (9,225,984); the authors'
# head fc 512 -> 512 -> 256 -> 10 with BatchNorm1d after the first two.
R002_VGG_FEATURES = sum(conv(a, b, 3) + bn(b) for a, b in ((3, 64), (64, 128), (128, 256), (256, 256),
                                                             (256, 512), (512, 512), (512, 512), (512, 512)))
R002_VGG_HEAD = fc(512, 512) + bn(512) + fc(512, 256) + bn(256) + fc(256, 10)
assert R002_VGG_FEATURES == 9_225_984

# 003: convs 3-32, 32-64, 64-128 (kernel k, padding k // 2, so 4 x 4 x 128 = 2,048 after three
# pools), fc 2048 -> 512 -> 128 -> 10; batch norm after every layer but fc3. Dropout has none.
def r003(k=(3, 3, 3), batch_norm=True):
    convs = conv(3, 32, k[0]) + conv(32, 64, k[1]) + conv(64, 128, k[2])
    norms = bn(32) + bn(64) + bn(128) + bn(512) + bn(128) if batch_norm else 0
    return convs + norms + fc(2048, 512) + fc(512, 128) + fc(128, 10)


EXPECTED_PARAMETERS = {
    "NN1": fc(3072, 4096) + fc(4096, 4096) + fc(4096, 100),
    "CNN2": simple_cnn((32, 32, 32, 64)),
    "CNN3a": simple_cnn((128, 128, 128, 256)),
    "CNN3b": simple_cnn((256, 256, 256, 512)),
    "CNN3c": simple_cnn((512, 512, 512, 1024)),
    "CNN4a": simple_cnn((128, 128, 128, 256), batch_norm=True),
    "CNN4b": simple_cnn((128, 128, 128, 256), fc_units=8192, batch_norm=True),
    "CNN4c": simple_cnn((128, 128, 128, 256), batch_norm=True),
    "CNN5a": simple_cnn((128, 128, 128, 256)),
    "CNN5b": simple_cnn((128, 128, 128, 256)),
    "CNN6": 11_689_512 - fc(512, 1000) + fc(512, 100),
    "001-A": R001_A, "001-A-drop0.2": R001_A, "001-A-drop0.5": R001_A, "001-A-drop0.8": R001_A,
    "001-A-drop0.8-60ep": R001_A,
    "001-B": R001_B,
    "002-CNN5": R002_CNN5, "002-CNN5-BN": R002_CNN5_BN, "002-ES-loss": R002_CNN5,
    "002-ES-acc": R002_CNN5, "002-ES-BN-acc": R002_CNN5_BN,
    "002-DA1": R002_CNN5, "002-DA2": R002_CNN5, "002-DA3": R002_CNN5,
    **{f"002-drop0.{k}": R002_CNN5 for k in range(1, 10)},  # dropout has none
    # partial: the features are frozen, so only the head is trainable
    "002-VGG-partial": R002_VGG_HEAD, "002-VGG-partial-DA": R002_VGG_HEAD,
    "002-VGG-full": R002_VGG_FEATURES + R002_VGG_HEAD, "002-VGG-full-DA": R002_VGG_FEATURES + R002_VGG_HEAD,
    "002-VGG-scratch": R002_VGG_FEATURES + R002_VGG_HEAD,
    "002-VGG-scratch-DA": R002_VGG_FEATURES + R002_VGG_HEAD,
    "003-final": r003(), "003-noaug": r003(), "003-k753": r003((7, 5, 3)), "003-k533": r003((5, 3, 3)),
    "003-noBN": r003(batch_norm=False), "003-BN-drop0.1": r003(), "003-bs16": r003(),
    "003-bs32": r003(), "003-SGD": r003(), "003-Adagrad": r003(), "003-RMSprop": r003(),
}

# 004-LeNet: 5x5 convs (padding 2) 3-32, 32-64, 64-128, three pools to 4x4: fc 2048 -> 64 -> 10.
# 390,410; the report prints 390,400, its last layer without its 10 biases (64 x 10 = 640).
R004_LENET = conv(3, 32, 5) + conv(32, 64, 5) + conv(64, 128, 5) + fc(2048, 64) + fc(64, 10)
# 004-Model1 (table 2): conv 32, bn; conv 64, 128, bn; conv 256, 512, bn; fc 8192 -> 2048 -> 64, bn -> 10.
R004_MODEL1 = (conv(3, 32, 5) + bn(32) + conv(32, 64, 5) + conv(64, 128, 5) + bn(128)
               + conv(128, 256, 5) + conv(256, 512, 5) + bn(512)
               + fc(512 * 4 * 4, 2048) + fc(2048, 64) + bn(64) + fc(64, 10))
# 004-Model2: LeNet with batch norm after each conv and after fc 2048 -> 64.
R004_MODEL2 = (conv(3, 32, 5) + bn(32) + conv(32, 64, 5) + bn(64) + conv(64, 128, 5) + bn(128)
               + fc(2048, 64) + bn(64) + fc(64, 10))
# 004-ResNet18: only layer4 and the new fc train. layer4: block 0 has 3x3 convs 256-512 and
# 512-512 and a 1x1 256-512 downsample, block 1 two 3x3 512-512; no biases; a batch norm after each.
R004_RESNET18 = (256 * 512 * 9 + 512 * 512 * 9 + 256 * 512 + 2 * 512 * 512 * 9 + 5 * bn(512)
                 + fc(512, 10))
EXPECTED_PARAMETERS.update({"004-LeNet": R004_LENET, "004-Model1": R004_MODEL1,
                            "004-Model2": R004_MODEL2, "004-ResNet18": R004_RESNET18})
