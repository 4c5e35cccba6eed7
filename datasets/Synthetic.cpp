// placeholder: implementation of datasets/Synthetic.h
