"""``archcalc train``: the reference trainer that confirms a spec's accuracy on MNIST-format data.

- :mod:`archcalc.train.data` finds, decodes and normalises the four IDX files;
- :mod:`archcalc.train.recipe` is the one documented default recipe;
- :mod:`archcalc.train.loop` trains, evaluates, checkpoints, resumes and runs under torchrun;
- :mod:`archcalc.train.pictures` draws curves.png, filters.png and feature_maps.png;
- :mod:`archcalc.train.cli` is the command.

Nothing is imported here, so ``archcalc`` stays torch-free until training is asked for.
"""
