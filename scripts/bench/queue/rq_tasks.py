# SPDX-License-Identifier: Apache-2.0
"""The job RQ runs in the queue benchmark."""


def noop(i):
    return i
