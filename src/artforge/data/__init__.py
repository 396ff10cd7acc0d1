"""Image read/write with the checks users need, colour operations, sample images, data sets
(folders, zips, idx, CIFAR-10) and image grids."""
