"""What two tasks or more share: the data set registry, token tables, batching, splits and
the readers of each data format."""
