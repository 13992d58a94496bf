"""The job RQ runs in the queue benchmark."""


def noop(i):
    return i
