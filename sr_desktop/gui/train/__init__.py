"""Tools ▸ Train a model…: the training dialog (`dialog.TrainDialog`) and its live plots."""
