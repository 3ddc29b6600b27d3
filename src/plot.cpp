// placeholder: plotting (being written)
