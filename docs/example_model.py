"""The model of README's "Your own model": a small residual CNN for 32×32 colour images, the
kind of network nobody's zoo has, saved as a user would (`python docs/example_model.py OUT.h5`).

Untrained (seeded weights): what browserdl measures is cost and fidelity, not accuracy.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build():  # -> tf_keras.Model
    import tf_keras as keras
    from tf_keras import layers

    keras.utils.set_random_seed(2019)
    pixels = keras.Input((32, 32, 3), name="pixels")
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(pixels)
    for filters in (16, 32):
        shortcut = layers.Conv2D(filters, 1, padding="same")(x)
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.BatchNormalization()(y)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        x = layers.ReLU()(layers.Add()([shortcut, y]))
        x = layers.MaxPooling2D(2)(x)
    features = layers.Concatenate()([layers.GlobalAveragePooling2D()(x),
                                     layers.GlobalMaxPooling2D()(x)])
    outputs = layers.Dense(10, activation="softmax")(layers.Dropout(0.2)(features))
    model = keras.Model(pixels, outputs, name="resnet-ish")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


if __name__ == "__main__":
    build().save(sys.argv[1] if len(sys.argv) > 1 else "my-net.h5")
