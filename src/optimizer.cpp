// placeholder: optimizers (being written)
