"""Teaching the model: labelled images, personal samples, training and evaluation."""
